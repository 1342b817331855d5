package workload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/marker"
	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers"
)

// Revert is the change that puts back the files of merged pull request
// number as they were before it, refused when any of them changed since.
// Pull requests are read from host, files through files.
func Revert(ctx context.Context, host forge.Pulls, files forge.Reader, repo forge.Repo, cfg *config.Config, number int) (Change, []string, error) {
	pr, err := host.Pull(ctx, repo, number)
	if errors.Is(err, forge.ErrNotFound) {
		return Change{}, nil, errs.Refused("there is no pull request %s here.", repo.PullRef(number))
	}
	if err != nil {
		return Change{}, nil, err
	}
	if !pr.Merged || pr.MergeSHA == "" {
		return Change{}, nil, errs.Refused("%s is not merged, so there is nothing to roll back.", repo.PullRef(number))
	}
	parent, err := host.FirstParent(ctx, repo, pr.MergeSHA)
	if err != nil {
		return Change{}, nil, err
	}
	paths, err := host.PullFiles(ctx, repo, number)
	if err != nil {
		return Change{}, nil, err
	}
	read := func(ref, p string) ([]byte, bool, error) {
		b, err := files.ReadFile(ctx, repo, ref, p)
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
			return Change{}, nil, err
		}
		merged, inMerge, err := read(pr.MergeSHA, p)
		if err != nil {
			return Change{}, nil, err
		}
		now, inNow, err := read(repo.DefaultBranch, p)
		if err != nil {
			return Change{}, nil, err
		}
		if inNow != inMerge || !bytes.Equal(now, merged) {
			changed = append(changed, md.Code(p))
			continue
		}
		if existed {
			manifests = append(manifests, providers.Manifest{Path: p, Raw: before})
		} else if inNow {
			manifests = append(manifests, providers.Manifest{Path: p, Delete: true})
		}
	}
	if len(changed) > 0 {
		return Change{}, nil, errs.Refused("these files of %s changed after its merge, so a revert would undo later work; I opened nothing: %s.",
			repo.PullRef(number), strings.Join(changed, ", "))
	}
	if len(manifests) == 0 {
		return Change{}, nil, errs.Refused("%s changed no files I can revert.", repo.PullRef(number))
	}
	mk, _, _ := marker.Parse(pr.Body)
	envs := mk.Environments
	if len(envs) == 0 {
		envs = cfg.TouchedEnvironments(paths)
	}
	return Change{
		Verb: "rollback", App: strconv.Itoa(number),
		Title:     "Roll back " + repo.PullRef(number),
		Summary:   fmt.Sprintf("Reverts the files of %s (merged as %s) to what they were before it.", repo.PullRef(number), md.Code(pr.MergeSHA)),
		Manifests: manifests,
	}, envs, nil
}

// recentPulls bounds the search for the last bot change.
const recentPulls = 50

// LastBotChange finds the newest merged pull request the bot opened for
// the workload in env; 0 when there is none among the recent ones.
func LastBotChange(ctx context.Context, host forge.Pulls, repo forge.Repo, workload, env string) (int, error) {
	pulls, err := host.MergedPulls(ctx, repo, recentPulls)
	if err != nil {
		return 0, err
	}
	for _, p := range pulls {
		m, ok, err := marker.Parse(p.Body)
		if !ok || err != nil || !contains(m.Environments, env) {
			continue
		}
		fields := strings.Fields(m.Command)
		named := len(fields) > 1 && fields[1] == workload
		for _, o := range m.Objects {
			named = named || o.Name == workload || o.Name == workload+"-"+env
		}
		if named {
			return p.Number, nil
		}
	}
	return 0, nil
}
