package forge

import (
	"fmt"
	"strings"
)

// The bot's verification checks are named "gitops-bot/sync: ENV" and carry
// the external ID "pr/N/env/ENV", so that a re-run (the host's button, or a
// /verify comment) finds the pull request and environment again.
const SyncCheckPrefix = "gitops-bot/sync: "

// SyncCheckName names the check of an environment.
func SyncCheckName(env string) string { return SyncCheckPrefix + env }

// SyncCheckID is the external ID of a pull request's check in an environment.
func SyncCheckID(pr int, env string) string { return fmt.Sprintf("pr/%d/env/%s", pr, env) }

// ParseSyncCheckID reads what SyncCheckID wrote.
func ParseSyncCheckID(id string) (pr int, env string, err error) {
	rest, ok := strings.CutPrefix(id, "pr/")
	num, env, ok2 := strings.Cut(rest, "/env/")
	if _, err := fmt.Sscan(num, &pr); !ok || !ok2 || err != nil || env == "" || pr <= 0 {
		return 0, "", fmt.Errorf("check external id %q is not the bot's", id)
	}
	return pr, env, nil
}
