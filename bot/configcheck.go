package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/forge"
)

// ConfigCheckName is the check a pull request that changes the repository
// config gets on its head commit.
const ConfigCheckName = "gitops-bot/config"

// HandlePull, for each new head of a pull request, validates
// .gitops-bot.yaml when the pull request changes it (a check on the head,
// so that a broken config is seen before the merge, where it would stop
// every command), and previews what each environment will get
// (bot/preview.go).
func (b *Bot) HandlePull(ctx context.Context, f forge.PullForge, ev forge.PullEvent) error {
	if ev.HeadSHA == "" {
		return nil
	}
	files, err := f.PullFiles(ctx, ev.Repo, ev.Number)
	if err != nil {
		return fmt.Errorf("listing the files of %s: %w", ev.Repo.PullRef(ev.Number), err)
	}
	if slices.Contains(files, config.Path) {
		if err := b.checkConfig(ctx, f, ev); err != nil {
			return err
		}
	}
	return b.preview(ctx, f, ev, files)
}

// checkConfig reports whether the head's .gitops-bot.yaml is valid.
func (b *Bot) checkConfig(ctx context.Context, f forge.PullForge, ev forge.PullEvent) error {
	log := b.Log.With("host", ev.Repo.Host, "repo", ev.Repo.FullName(), "pull", ev.Number, "head", ev.HeadSHA)
	c := forge.Check{Name: ConfigCheckName, ExternalID: fmt.Sprintf("config/%d", ev.Number), Status: "completed"}
	cfg, err := config.Load(ctx, f, ev.Repo, ev.HeadSHA)
	var invalid *config.Error
	switch {
	case errors.As(err, &invalid):
		// The error in the title too: a GitLab commit status shows only it.
		c.Conclusion, c.Title = "failure", config.Path+" is invalid: "+md.Clip(invalid.Msg, 200)
		c.Summary = fmt.Sprintf("Merged as it is, every command in this repository would answer with this error and change nothing:\n\n%s",
			md.CodeBlock("", invalid.Error()))
	case err != nil:
		return fmt.Errorf("reading %s at %s: %w", config.Path, ev.HeadSHA, err) // retried with the delivery
	default:
		c.Conclusion, c.Title = "success", config.Path+" is valid"
		c.Summary = describeConfig(cfg)
	}
	if _, err := f.Report(ctx, ev.Repo, ev.HeadSHA, c); err != nil {
		return fmt.Errorf("reporting the config check: %w", err)
	}
	log.Info("config check", "conclusion", c.Conclusion)
	return nil
}

// describeConfig says what a valid config sets, for the check's summary.
func describeConfig(c *config.Config) string {
	provider := c.Provider
	if provider == "" {
		provider = "chosen per environment from the objects it holds"
	}
	if !c.ListsEnvironments() {
		return fmt.Sprintf("Provider: %s.\n\nEnvironments: none listed, so each directory `clusters/NAME` is environment NAME.", provider)
	}
	var envs []string
	for _, e := range c.Environments {
		line := fmt.Sprintf("- %s: %s", md.Code(e.Name), md.Code(e.Dir))
		if e.Cluster != "" {
			line += " on cluster " + md.Code(e.Cluster)
		}
		envs = append(envs, line)
	}
	return fmt.Sprintf("Provider: %s.\n\nEnvironments:\n%s", provider, strings.Join(envs, "\n"))
}
