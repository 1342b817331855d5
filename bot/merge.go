package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/marker"
	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/sync/verify"
)

// Verifier starts post-merge verifications (verify.Verifier).
type Verifier interface {
	Start(ctx context.Context, req verify.Request) error
}

// HandleMerge starts the verification of a merged pull request: one per
// environment it touches. The bot's own pull requests say which in their
// marker; others are verified when the repository config asks for it.
func (b *Bot) HandleMerge(ctx context.Context, f forge.MergeForge, ev forge.MergeEvent) error {
	_, err := b.VerifyMerge(ctx, f, ev)
	return err
}

// VerifyMerge is HandleMerge that returns the environments it started
// verifications for (command.Merges, for /verify).
func (b *Bot) VerifyMerge(ctx context.Context, f forge.MergeForge, ev forge.MergeEvent) ([]string, error) {
	pr := ev.Pull
	if !pr.Merged || pr.MergeSHA == "" {
		return nil, nil
	}
	log := b.Log.With("host", ev.Repo.Host, "repo", ev.Repo.FullName(), "pull", pr.Number)
	if b.Verifier == nil {
		log.Info("merge not verified: no verifier configured")
		return nil, nil
	}
	say := func(key, msg string) {
		if err := f.Reply(ctx, ev.Repo, forge.Reply{Thread: pr.Number, PR: true, Key: key, Body: msg}); err != nil {
			log.Warn("reply failed", "err", err)
		}
	}
	mk, marked, markerErr := marker.Parse(pr.Body)
	if markerErr != nil {
		say("marker", fmt.Sprintf("I could not read the gitops-bot marker of this pull request (%v), so I verify it like any other merge.", markerErr))
		marked = false
	}
	snap, done := b.Snapshots.Open(ctx, f, ev.Repo)
	defer done()
	cfg, err := config.Load(ctx, snap.Reader, ev.Repo, pr.MergeSHA)
	var ce *config.Error
	if errors.As(err, &ce) {
		say("config", fmt.Sprintf("The merge commit's repository config is invalid, so I cannot verify the sync:\n\n%s", md.CodeBlock("", ce.Error())))
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
		provider, envs = mk.Provider, mk.Environments
	} else {
		envs = cfg.TouchedEnvironments(files)
	}
	var started []string
	for _, name := range envs {
		if ev.Env != "" && name != ev.Env {
			continue
		}
		env, err := cfg.Environment(name)
		if err != nil {
			say("env-"+name, fmt.Sprintf("Environment %s is not in the repository config any more, so I cannot verify it: %s", md.Code(name), errs.Message(err)))
			continue
		}
		req := verify.Request{
			Repo: ev.Repo, SHA: pr.MergeSHA, PR: pr.Number, Env: name, Cluster: env.Cluster,
			Provider: provider, Files: cfg.EnvironmentFiles(name, files), Timeout: cfg.VerifyTimeout.Duration, FailureGrace: cfg.VerifyFailureGrace.Duration,
		}
		for _, o := range mk.Objects {
			if o.Env == name {
				req.Objects = append(req.Objects, o.Ref)
			}
		}
		if !marked {
			if req.Objects, err = mergedObjects(ctx, snap.Reader, ev.Repo, pr.MergeSHA, req.Files); err != nil {
				return started, fmt.Errorf("reading the merged files of %s: %w", name, err)
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
