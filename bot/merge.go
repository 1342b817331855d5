package bot

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/sync"
)

// Verifier starts post-merge verifications (sync.Verifier).
type Verifier interface {
	Start(ctx context.Context, req sync.Request) error
}

// HandleMerge starts the verification of a merged pull request: one per
// environment it touches. The bot's own pull requests say which in their
// marker; others are verified when the repository config asks for it.
func (b *Bot) HandleMerge(ctx context.Context, f forge.MergeForge, ev forge.MergeEvent) error {
	_, err := b.verifyMerge(ctx, f, ev)
	return err
}

// verifyMerge returns the environments it started verifications for.
func (b *Bot) verifyMerge(ctx context.Context, f forge.MergeForge, ev forge.MergeEvent) ([]string, error) {
	pr := ev.Pull
	if !pr.Merged || pr.MergeSHA == "" {
		return nil, nil
	}
	log := b.Log.With("repo", ev.Repo.FullName(), "pull", pr.Number)
	if b.Verifier == nil {
		log.Info("merge not verified: no verifier configured")
		return nil, nil
	}
	say := func(key, msg string) {
		if err := f.Reply(ctx, ev.Repo, forge.Reply{Thread: pr.Number, PR: true, Key: key, Body: msg}); err != nil {
			log.Warn("reply failed", "err", err)
		}
	}
	marker, marked, markerErr := ParseMarker(pr.Body)
	if markerErr != nil {
		say("marker", fmt.Sprintf("I could not read the gitops-bot marker of this pull request (%v), so I verify it like any other merge.", markerErr))
		marked = false
	}
	cfg, err := LoadConfig(ctx, f, ev.Repo, pr.MergeSHA)
	var ce *ConfigError
	if errors.As(err, &ce) {
		say("config", fmt.Sprintf("The merge commit's repository config is invalid, so I cannot verify the sync:\n\n%s", codeBlock("", ce.Error())))
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !marked && !cfg.VerifyAllMerges {
		return nil, nil
	}
	files, err := f.PullFiles(ctx, ev.Repo, pr.Number)
	if err != nil {
		return nil, err
	}

	provider := cfg.Provider
	var envs []string
	if marked {
		provider, envs = marker.Provider, marker.Environments
	} else {
		envs = cfg.touchedEnvironments(files)
	}
	var started []string
	for _, name := range envs {
		if ev.Env != "" && name != ev.Env {
			continue
		}
		env, err := cfg.Environment(name)
		if err != nil {
			say("env-"+name, fmt.Sprintf("Environment %s is not in the repository config any more, so I cannot verify it: %v", code(name), err))
			continue
		}
		req := sync.Request{
			Repo: ev.Repo, SHA: pr.MergeSHA, PR: pr.Number, Env: name, Cluster: env.Cluster,
			Provider: provider, Files: files, Timeout: cfg.VerifyTimeout.Duration,
		}
		for _, o := range marker.Objects {
			if o.Env == name {
				req.Objects = append(req.Objects, o.Ref)
			}
		}
		if err := b.Verifier.Start(ctx, req); err != nil {
			return started, fmt.Errorf("starting the verification of %s: %w", name, err)
		}
		started = append(started, name)
	}
	log.Info("verifying merge", "sha", pr.MergeSHA, "environments", strings.Join(started, ","))
	return started, nil
}

// touchedEnvironments: the environments whose directory holds a changed
// file. Without an environments list, clusters/<name>/ names one.
func (c *Config) touchedEnvironments(files []string) []string {
	seen := map[string]bool{}
	for _, f := range files {
		if c.explicitEnvs {
			for _, e := range c.Environments {
				if providers.PathContains(e.Dir, f) {
					seen[e.Name] = true
				}
			}
			continue
		}
		if rest, ok := strings.CutPrefix(f, "clusters/"); ok {
			if name, _, nested := strings.Cut(rest, "/"); nested && checkEnvName(name) == nil {
				seen[name] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for e := range seen {
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}
