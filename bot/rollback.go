package bot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers"
)

func init() {
	register(&verb{
		name: "rollback", args: "[PR]", needsAuth: true,
		summary: "revert the files of a merged pull request (this one, or PR), if they have not changed since",
		bind: func() (*pflag.FlagSet, runFunc) {
			return pflag.NewFlagSet("rollback", pflag.ContinueOnError), runRollback
		},
	})
}

func runRollback(ctx context.Context, x *execution, args []string) (string, error) {
	v := verbs["rollback"]
	if err := v.positional(args, 0, 1); err != nil {
		return "", err
	}
	number := x.event.Thread
	if len(args) == 1 {
		n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimPrefix(args[0], "#"), "!"))
		if err != nil || n <= 0 {
			return "", &usageError{verb: v, msg: fmt.Sprintf("PR %q is not a pull request number", args[0])}
		}
		number = n
	} else if !x.event.IsPR {
		return "", &usageError{verb: v, msg: "on an issue, say which pull request: /rollback 123"}
	}
	pr, err := x.forge.Pull(ctx, x.event.Repo, number)
	if errors.Is(err, forge.ErrNotFound) {
		return fmt.Sprintf("%s: there is no pull request #%d here.", code(x.inv.Line), number), nil
	}
	if err != nil {
		return "", err
	}
	if !pr.Merged || pr.MergeSHA == "" {
		return fmt.Sprintf("%s: #%d is not merged, so there is nothing to roll back.", code(x.inv.Line), number), nil
	}
	parent, err := x.forge.FirstParent(ctx, x.event.Repo, pr.MergeSHA)
	if err != nil {
		return "", err
	}
	paths, err := x.forge.PullFiles(ctx, x.event.Repo, number)
	if err != nil {
		return "", err
	}
	read := func(ref, p string) ([]byte, bool, error) {
		b, err := x.forge.ReadFile(ctx, x.event.Repo, ref, p)
		if errors.Is(err, forge.ErrNotFound) {
			return nil, false, nil
		}
		return b, err == nil, err
	}
	var manifests []providers.Manifest
	var changed []string
	for _, p := range paths {
		before, existed, err := read(parent, p)
		if err != nil {
			return "", err
		}
		merged, inMerge, err := read(pr.MergeSHA, p)
		if err != nil {
			return "", err
		}
		now, inNow, err := read(x.event.Repo.DefaultBranch, p)
		if err != nil {
			return "", err
		}
		if inNow != inMerge || !bytes.Equal(now, merged) {
			changed = append(changed, code(p))
			continue
		}
		if existed {
			manifests = append(manifests, providers.Manifest{Path: p, Raw: before})
		} else if inNow {
			manifests = append(manifests, providers.Manifest{Path: p, Delete: true})
		}
	}
	if len(changed) > 0 {
		return fmt.Sprintf("%s: these files of #%d changed after its merge, so a revert would undo later work; I opened nothing: %s.",
			code(x.inv.Line), number, strings.Join(changed, ", ")), nil
	}
	if len(manifests) == 0 {
		return fmt.Sprintf("%s: #%d changed no files I can revert.", code(x.inv.Line), number), nil
	}
	marker, _, _ := ParseMarker(pr.Body)
	envs := marker.Environments
	if len(envs) == 0 {
		envs = x.config.touchedEnvironments(paths)
	}
	return x.propose(ctx, proposal{
		verb: "rollback", app: strconv.Itoa(number), envs: envs, provider: x.config.Provider,
		title:     fmt.Sprintf("Roll back #%d", number),
		summary:   fmt.Sprintf("Reverts the files of #%d (merged as %s) to what they were before it.", number, code(pr.MergeSHA)),
		manifests: manifests, validated: true,
	})
}
