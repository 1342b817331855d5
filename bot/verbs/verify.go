package verbs

import (
	"context"
	"strings"

	"github.com/spf13/pflag"

	"github.com/gitops-bot/gitops-bot/bot/command"
	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/forge"
)

func init() { command.Register(func() command.Verb { return &verify{} }) }

// verify is "/verify [--env ENV]" on a merged pull request.
type verify struct{ env string }

func (*verify) Spec() command.Spec {
	return command.Spec{Name: "verify", Changes: true,
		Summary:     "on a merged pull request: check again that the cluster applied it",
		Description: "Starts the verification of the merge commit again and reports it as a check on it.",
		Examples:    []string{"/verify", "/verify --env production"}}
}

func (v *verify) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&v.env, "env", "", "only this environment (default: every environment of the pull request)")
}

func (v *verify) Run(ctx context.Context, req *command.Request) (command.Result, error) {
	if err := command.Positional(v, req.Args, 0, 0); err != nil {
		return command.Result{}, err
	}
	if !req.IsPR {
		return command.Result{}, errs.Usage("comment /verify on the merged pull request to verify")
	}
	pr, err := req.Host.Pull(ctx, req.Repo, req.Thread)
	if err != nil {
		return command.Result{}, err
	}
	if !pr.Merged {
		return command.Result{}, errs.Refused("%s is not merged yet; I verify a pull request after its merge.", req.Repo.PullRef(pr.Number))
	}
	if req.Merges == nil {
		return command.Result{}, errs.Refused("this bot has no cluster to verify against.")
	}
	started, err := req.Merges.VerifyMerge(ctx, req.Host, forge.MergeEvent{Repo: req.Repo, Pull: pr, Env: v.env})
	if err != nil {
		return command.Result{}, err
	}
	if len(started) == 0 {
		return command.Result{}, errs.Refused("nothing to verify: this pull request touches no environment I know of.")
	}
	var names []string
	for _, e := range started {
		names = append(names, md.Code(forge.SyncCheckName(e)))
	}
	return command.Result{Body: "Verifying " + md.Code(pr.MergeSHA[:min(7, len(pr.MergeSHA))]) + " again: see " + strings.Join(names, ", ") + " on the merge commit."}, nil
}
