package verbs

import (
	"context"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/gitops-bot/gitops-bot/bot/command"
	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/workload"
)

func init() { command.Register(func() command.Verb { return &rollback{} }) }

// rollback is "/rollback [PR]".
type rollback struct{}

func (*rollback) Spec() command.Spec {
	return command.Spec{Name: "rollback", Args: "[PR]", Changes: true, Plannable: true,
		Summary:     "revert the files of a merged pull request (this one, or PR), if they have not changed since",
		Description: "Opens a pull request that puts the files back as they were before the merge; if any of them changed after it, nothing is opened, since a revert would undo later work.",
		Examples:    []string{"/rollback", "/rollback 123"}}
}

func (*rollback) Flags(*pflag.FlagSet) {}

func (v *rollback) Run(ctx context.Context, req *command.Request) (command.Result, error) {
	if err := command.Positional(v, req.Args, 0, 1); err != nil {
		return command.Result{}, err
	}
	number := req.Thread
	if len(req.Args) == 1 {
		n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimPrefix(req.Args[0], "#"), "!"))
		if err != nil || n <= 0 {
			return command.Result{}, errs.Usage("PR %q is not a pull request number", req.Args[0])
		}
		number = n
	} else if !req.IsPR {
		return command.Result{}, errs.Usage("on an issue, say which pull request: /rollback 123")
	}
	c, envs, err := workload.Revert(ctx, req.Host, req.Files.Reader, req.Repo, req.Config, number)
	if err != nil {
		return command.Result{}, err
	}
	return req.Propose(ctx, command.Proposal{
		Verb: c.Verb, App: c.App, Envs: envs, Provider: req.Config.Provider,
		Title: c.Title, Summary: c.Summary, Manifests: c.Manifests, Validated: true,
	})
}
