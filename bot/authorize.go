package bot

import (
	"context"
	"fmt"
	"strings"

	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/forge"
)

// authorize decides whether user may run commands that change the
// repository: the minimum permission must hold and, when allow-lists are
// set, the user must be on one. why says, politely, what is missing.
func authorize(ctx context.Context, f forge.Authorizer, r forge.Repo, a config.Access, user string) (ok bool, why string, err error) {
	min, err := forge.ParsePermission(a.MinPermission)
	if err != nil {
		return false, "", err
	}
	perm, err := f.Permission(ctx, r, user)
	if err != nil {
		return false, "", err
	}
	if perm < min {
		return false, fmt.Sprintf("commands here need %s access to %s and you have %s", min, r.FullName(), perm), nil
	}
	if len(a.Users) == 0 && len(a.Teams) == 0 {
		return true, "", nil
	}
	for _, u := range a.Users {
		if strings.EqualFold(u, user) {
			return true, "", nil
		}
	}
	for _, t := range a.Teams {
		in, err := f.TeamMember(ctx, r, t, user)
		if err != nil {
			return false, "", err
		}
		if in {
			return true, "", nil
		}
	}
	return false, fmt.Sprintf("commands here are limited to the users and teams listed in `%s`", config.Path), nil
}
