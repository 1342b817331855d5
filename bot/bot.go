// Package bot is the forge-neutral core: it reads commands from comments,
// checks who may run them, loads the repository config, asks a provider for
// the change and hands it to the forge as a pull request.
package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/argocd"
	"github.com/gitops-bot/gitops-bot/providers/flux"
	"github.com/gitops-bot/gitops-bot/providers/preflight"
	"github.com/gitops-bot/gitops-bot/sync"
)

// Bot handles events. It holds no per-repository state.
type Bot struct {
	Providers map[string]providers.Provider
	Log       *slog.Logger
	// Verifier verifies merges; nil leaves them unverified.
	Verifier Verifier
	// Owners answers, from a cluster, which GitOps objects apply a
	// workload; nil when no cluster is configured.
	Owners Owners
}

// Owners finds the GitOps objects that apply a workload (sync.Verifier).
type Owners interface {
	Owners(ctx context.Context, cluster, kind, name string) ([]sync.Owner, error)
}

// New returns a bot with both providers.
func New(log *slog.Logger) *Bot {
	if log == nil {
		log = slog.Default()
	}
	return &Bot{
		Providers: map[string]providers.Provider{"flux": flux.Provider{}, "argocd": argocd.Provider{}},
		Log:       log,
	}
}

// ReactionSeen is the reaction that tells the commenter the bot is on it.
const ReactionSeen = "eyes"

// execution is the context of one comment's commands.
type execution struct {
	bot    *Bot
	forge  forge.Forge
	event  forge.CommentEvent
	config *Config
	inv    Invocation
	// plan: reply with the change instead of proposing it (/plan).
	plan bool
	// providerName is the provider the command resolved to.
	providerName string
	files        []string // the repository's files, once read
	// redirected: running in the repository that owns the workload, on a
	// comment made in another one.
	redirected bool
	// For changes not asked for in a comment (alerts): the branch to use and
	// the account of why, in place of "requested by".
	branch, origin string
	lastPR         *forge.PullRequest // what propose opened or updated
}

// HandleComment runs the commands of a new comment and replies once on the
// thread with the outcome of each.
func (b *Bot) HandleComment(ctx context.Context, f forge.Forge, ev forge.CommentEvent) error {
	if ev.AuthorIsBot {
		return nil
	}
	invs := ParseComment(ev.Body)
	if len(invs) == 0 {
		return nil
	}
	log := b.Log.With("repo", ev.Repo.FullName(), "thread", ev.Thread, "comment", ev.CommentID, "user", ev.Author)
	first, err := f.React(ctx, ev.Repo, forge.CommentRef{Thread: ev.Thread, ID: ev.CommentID, PR: ev.IsPR}, ReactionSeen)
	if err != nil {
		// A missing reaction is cosmetic; the reply still comes.
		log.Warn("reaction failed", "err", err)
		first = false
	}
	reply := func(body string) error {
		return f.Reply(ctx, ev.Repo, forge.Reply{Thread: ev.Thread, PR: ev.IsPR, Key: fmt.Sprintf("comment-%d", ev.CommentID), Body: body, New: first})
	}
	if len(invs) > MaxCommands {
		commandsTotal.WithLabelValues("", "rejected").Inc()
		return reply(fmt.Sprintf("This comment has %d commands; I run at most %d per comment. Nothing was done: split them over several comments.", len(invs), MaxCommands))
	}

	cfg, cfgErr := LoadConfig(ctx, f, ev.Repo, ev.Repo.DefaultBranch)
	x := &execution{bot: b, forge: f, event: ev, config: cfg}
	authorized := false // checked once, on the first verb that needs it
	var sections []string
	for _, inv := range invs {
		x.inv, x.plan, x.providerName, x.files = inv, false, "", nil
		out, outcome := x.run(ctx, cfgErr, &authorized)
		commandsTotal.WithLabelValues(inv.Verb, outcome).Inc()
		log.Info("command", "verb", inv.Verb, "outcome", outcome)
		sections = append(sections, out)
	}
	return reply(strings.Join(sections, "\n\n---\n\n"))
}

// run executes one invocation and returns the reply section and an outcome
// label for metrics.
func (x *execution) run(ctx context.Context, cfgErr error, authorized *bool) (string, string) {
	inv := x.inv
	v, ok := verbs[inv.Verb]
	if !ok {
		return fmt.Sprintf("%s: unknown command %s. Known commands: %s. Try `/help`.", code(inv.Line), code("/"+inv.Verb), knownVerbs()), "unknown"
	}
	if inv.Err != nil {
		return usageReply(v, inv, inv.Err.Error()), "usage"
	}
	if v.needsAuth {
		if cfgErr != nil {
			var ce *ConfigError
			if errors.As(cfgErr, &ce) {
				return fmt.Sprintf("%s: the repository config is invalid, so I changed nothing.\n\n%s", code(inv.Line), codeBlock("", ce.Error())), "config"
			}
			return fmt.Sprintf("%s: I could not read `%s` (%v). Nothing was changed; comment again to retry.", code(inv.Line), ConfigPath, cfgErr), "error"
		}
		if !*authorized {
			ok, why, err := authorize(ctx, x.forge, x.event.Repo, x.config.Access, x.event.Author)
			if err != nil {
				return fmt.Sprintf("%s: I could not check your permissions (%v). Nothing was changed; comment again to retry.", code(inv.Line), err), "error"
			}
			if !ok {
				return fmt.Sprintf("Sorry %s, %s, so I did not run %s. Ask someone with access to run it.", mention(x.event.Author), why, code(inv.Line)), "denied"
			}
			*authorized = true
		}
	}
	fs, run, err := v.parse(inv.Args)
	if err != nil {
		return usageReply(v, inv, err.Error()), "usage"
	}
	out, err := run(ctx, x, fs.Args())
	var ew *elsewhere
	if errors.As(err, &ew) {
		out, err = x.inOtherRepo(ctx, ew, run, fs.Args())
	}
	var ue *usageError
	var pe *preflight.Error
	switch {
	case errors.As(err, &ue):
		return usageReply(v, inv, ue.msg), "usage"
	case errors.As(err, &pe):
		return fmt.Sprintf("%s: the change does not pass the checks, so I opened nothing.\n\n%s", code(inv.Line), codeBlock("", pe.Error())), "invalid"
	case err != nil:
		return fmt.Sprintf("%s failed: %v\n\nNothing was changed.", code(inv.Line), err), "error"
	}
	return out, "ok"
}

func usageReply(v *verb, inv Invocation, msg string) string {
	return fmt.Sprintf("%s: %s\n\nUsage:\n%s", code(inv.Line), msg, codeBlock("", v.usage()))
}

func knownVerbs() string {
	var names []string
	for _, v := range sortedVerbs() {
		names = append(names, code("/"+v.name))
	}
	return strings.Join(names, ", ")
}
