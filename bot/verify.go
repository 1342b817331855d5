package bot

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/sync"
)

func init() {
	register(&verb{
		name:      "verify",
		summary:   "on a merged pull request: check again that the cluster applied it",
		needsAuth: true,
		bind: func() (*pflag.FlagSet, runFunc) {
			fs := pflag.NewFlagSet("verify", pflag.ContinueOnError)
			env := fs.String("env", "", "only this environment (default: every environment of the pull request)")
			return fs, func(ctx context.Context, x *execution, args []string) (string, error) {
				return runVerify(ctx, x, args, *env)
			}
		},
	})
}

func runVerify(ctx context.Context, x *execution, args []string, env string) (string, error) {
	v := verbs["verify"]
	if err := v.positional(args, 0, 0); err != nil {
		return "", err
	}
	if !x.event.IsPR {
		return "", &usageError{verb: v, msg: "comment /verify on the merged pull request to verify"}
	}
	pr, err := x.forge.Pull(ctx, x.event.Repo, x.event.Thread)
	if err != nil {
		return "", err
	}
	if !pr.Merged {
		return fmt.Sprintf("%s: #%d is not merged yet; I verify a pull request after its merge.", code(x.inv.Line), pr.Number), nil
	}
	if x.bot.Verifier == nil {
		return fmt.Sprintf("%s: this bot has no cluster to verify against.", code(x.inv.Line)), nil
	}
	started, err := x.bot.verifyMerge(ctx, x.forge, forge.MergeEvent{Repo: x.event.Repo, Pull: pr, Env: env})
	if err != nil {
		return "", err
	}
	if len(started) == 0 {
		return fmt.Sprintf("%s: nothing to verify: this pull request touches no environment I know of.", code(x.inv.Line)), nil
	}
	var names []string
	for _, e := range started {
		names = append(names, code(sync.CheckName(e)))
	}
	return fmt.Sprintf("Verifying %s again: see %s on the merge commit.", code(pr.MergeSHA[:min(7, len(pr.MergeSHA))]), strings.Join(names, ", ")), nil
}
