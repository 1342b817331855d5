// Package bot is the forge-neutral core of the comment and merge flows: it
// reads the commands of a comment, checks who may run them, loads the
// repository config, runs each verb (bot/verbs) with a command.Request and
// replies once; after a merge it starts the verification (sync/verify).
package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gitops-bot/gitops-bot/bot/activity"
	"github.com/gitops-bot/gitops-bot/bot/command"
	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/logctx"
	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/bot/snapshot"
	"github.com/gitops-bot/gitops-bot/bot/suggest"
	_ "github.com/gitops-bot/gitops-bot/bot/verbs" // every verb registers itself
	"github.com/gitops-bot/gitops-bot/bot/workload"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/argocd"
	"github.com/gitops-bot/gitops-bot/providers/flux"
)

// Bot handles events. It holds no per-repository state.
type Bot struct {
	Providers map[string]providers.Provider
	Log       *slog.Logger
	// Verifier verifies merges; nil leaves them unverified.
	Verifier Verifier
	// Owners answers, from a cluster, which GitOps objects apply a
	// workload; nil when no cluster is configured.
	Owners workload.Owners
	// Snapshots reads repositories: from local mirrors when it has them.
	Snapshots snapshot.Source
	// Charts renders charts of Helm repositories to judge changes of a
	// release's values; nil: not rendered.
	Charts workload.ChartRenderer
	// OnCommand, when set, is told each command's outcome (the local
	// runner's exit status comes from it).
	OnCommand func(verb string, o command.Outcome, err error)
	// Activity, when set, keeps each command's outcome for the status page.
	Activity *activity.Log
	// PreviewDelay is how long a pull request's new head waits before it
	// is previewed, so that a burst of pushes renders once, for the newest.
	PreviewDelay time.Duration
	// PreviewTimeout bounds one preview (DefaultPreviewTimeout when 0).
	PreviewTimeout time.Duration

	previews previews
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

// HandleComment runs the commands of a new comment and replies once on the
// thread with the outcome of each.
func (b *Bot) HandleComment(ctx context.Context, f forge.Forge, ev forge.CommentEvent) error {
	if ev.AuthorIsBot {
		return nil
	}
	invs := command.ParseComment(ev.Body)
	if len(invs) == 0 {
		return nil
	}
	began := time.Now()
	log := b.Log.With("delivery", ev.DeliveryID, "host", ev.Repo.Host, "repo", ev.Repo.FullName(),
		"thread", ev.Thread, "comment", ev.CommentID, "user", ev.Author)
	ctx = logctx.With(ctx, log)
	first, err := f.React(ctx, ev.Repo, forge.CommentRef{Thread: ev.Thread, ID: ev.CommentID, PR: ev.IsPR}, ReactionSeen)
	if err != nil {
		// A missing reaction is cosmetic; the reply still comes.
		log.Warn("reaction failed", "err", err)
		first = false
	}
	reply := func(body string) error {
		// The reply is owed even when the commands used up the delivery's
		// time (the host calls under it are retried); failing that, the
		// log keeps what the person was to be told.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), replyTimeout)
		defer cancel()
		err := f.Reply(rctx, ev.Repo, forge.Reply{Thread: ev.Thread, PR: ev.IsPR, Key: fmt.Sprintf("comment-%d", ev.CommentID), Body: body, New: first})
		if err != nil {
			log.Error("the reply could not be posted", "err", err, "reply", body)
		}
		return err
	}
	if len(invs) > command.MaxCommands {
		commandsTotal.WithLabelValues("", string(command.Refuse)).Inc()
		defer func() {
			log.Info("command", "outcome", command.Refuse, "error", "too many commands", "commands", len(invs), "duration", seconds(time.Since(began)))
		}()
		b.record(ev, invs[0].Line+" …", command.Refuse, "too many commands in one comment", nil)
		return reply(fmt.Sprintf("This comment has %d commands; I run at most %d per comment. Nothing was done: split them over several comments.", len(invs), command.MaxCommands))
	}

	snap, done := b.Snapshots.Open(ctx, f, ev.Repo)
	defer done()
	cfg, cfgErr := config.Load(ctx, snap.Reader, ev.Repo, ev.Repo.DefaultBranch)
	if ev.Closed && (cfgErr != nil || !cfg.CommandsOnClosed) {
		commandsTotal.WithLabelValues("", string(command.Refuse)).Inc()
		defer func() {
			log.Info("command", "outcome", command.Refuse, "error", "closed thread", "duration", seconds(time.Since(began)))
		}()
		b.record(ev, invs[0].Line, command.Refuse, "closed thread", nil)
		what := "issue"
		if ev.IsPR {
			what = "pull request"
		}
		return reply(fmt.Sprintf("This %s is closed, so I ran nothing. Reopen it, or comment on an open one.", what))
	}
	c := &commentRun{bot: b, host: f, ev: ev, cfg: cfg, cfgErr: cfgErr, snap: snap}
	var sections []string
	// Each command's log line is written once the reply is out, so that
	// its duration is its share of the whole: the first's includes reading
	// the repository, the last's the reply; together, the comment's time.
	var lines [][]any
	last := began
	for i, inv := range invs {
		o := c.run(ctx, inv)
		commandsTotal.WithLabelValues(inv.Verb, string(o.outcome)).Inc()
		attrs := []any{"verb", inv.Verb, "outcome", o.outcome}
		if o.err != nil {
			attrs = append(attrs, "error", o.err.Error(), "kind", errs.KindOf(o.err).String())
		}
		if o.pr != nil {
			attrs = append(attrs, "pull_request", o.pr.URL)
		}
		if i < len(invs)-1 {
			attrs = append(attrs, "duration", seconds(time.Since(last)))
			last = time.Now()
		}
		lines = append(lines, attrs)
		detail := ""
		if o.err != nil {
			detail = o.err.Error()
		}
		b.record(ev, inv.Line, o.outcome, detail, o.pr)
		if b.OnCommand != nil {
			b.OnCommand(inv.Verb, o.outcome, o.err)
		}
		sections = append(sections, o.body)
	}
	logLines := func(extra ...any) {
		lines[len(lines)-1] = append(lines[len(lines)-1], append(extra, "duration", seconds(time.Since(last)))...)
		for _, attrs := range lines {
			log.Info("command", attrs...)
		}
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		// The bot is stopping: the delivery stays in the inbox and is run
		// again at the next start, which replies. A reply now would race it.
		logLines("replied", false)
		log.Info("stopped before replying; the delivery is resumed at the next start")
		return ctx.Err()
	}
	err = reply(strings.Join(sections, "\n\n---\n\n"))
	logLines("replied", err == nil)
	return err
}

// seconds is a duration as logs give it: seconds, to the millisecond.
func seconds(d time.Duration) float64 {
	return d.Round(time.Millisecond).Seconds()
}

// record keeps a command's outcome for the status page.
func (b *Bot) record(ev forge.CommentEvent, line string, o command.Outcome, detail string, pr *forge.PullRequest) {
	e := activity.Entry{Source: "command", Repo: ev.Repo.FullName(), What: line,
		Where: ev.Repo.ThreadRef(ev.Thread, ev.IsPR), WhereURL: ev.Repo.ThreadURL(ev.Thread, ev.IsPR),
		Outcome: string(o), Detail: detail}
	if pr != nil {
		e.Link, e.LinkText = pr.URL, ev.Repo.PullRef(pr.Number)
	}
	b.Activity.Add(e)
}

// replyTimeout bounds posting a reply, retries included, once the
// commands are done.
const replyTimeout = 2 * time.Minute

// commentRun is one comment's commands: what they share is read once.
type commentRun struct {
	bot        *Bot
	host       forge.Forge
	ev         forge.CommentEvent
	cfg        *config.Config
	cfgErr     error
	snap       *snapshot.Snapshot // the repository's default branch, shared by the commands
	authorized bool               // checked once, on the first verb that needs it
}

// outcome of one command, for the reply, the metrics and the log.
type outcome struct {
	body    string
	outcome command.Outcome
	err     error
	pr      *forge.PullRequest
}

func (c *commentRun) run(ctx context.Context, inv command.Invocation) outcome {
	v, ok := command.Lookup(inv.Verb)
	if !ok {
		hint := suggest.DidYouMean(inv.Verb, command.Names(), func(s string) string { return md.Code("/" + s) })
		return outcome{body: fmt.Sprintf("%s: unknown command %s.%s Known commands: %s. Try `/help`.", md.Code(inv.Line), md.Code("/"+inv.Verb), hint, knownVerbs()),
			outcome: command.BadArgs, err: errs.Usage("unknown command /%s", inv.Verb)}
	}
	if inv.Err != nil {
		return outcomeOf(inv.Line, v, command.Result{}, errs.Usage("%v", inv.Err))
	}
	if v.Spec().Changes {
		if o, stop := c.mayChange(ctx, inv); stop {
			return o
		}
	}
	args, err := command.Parse(v, inv.Args)
	if err != nil {
		return outcomeOf(inv.Line, v, command.Result{}, err)
	}
	req := c.request(inv.Line, args, c.host, c.snap, c.cfg)
	res, err := v.Run(ctx, req)
	var ew *workload.Elsewhere
	if errors.As(err, &ew) {
		res, err = c.inOtherRepo(ctx, ew, inv, args)
	}
	return outcomeOf(inv.Line, v, res, err)
}

func outcomeOf(line string, v command.Verb, res command.Result, err error) outcome {
	body, o := command.Render(line, v, res, err)
	return outcome{body: body, outcome: o, err: err, pr: res.PR}
}

// mayChange checks the config and the commenter's access before a verb
// that changes something; stop is true when the command must not run.
func (c *commentRun) mayChange(ctx context.Context, inv command.Invocation) (outcome, bool) {
	if c.cfgErr != nil {
		var ce *config.Error
		if errors.As(c.cfgErr, &ce) {
			return outcome{body: fmt.Sprintf("%s: the repository config is invalid, so I changed nothing.\n\n%s", md.Code(inv.Line), md.CodeBlock("", ce.Error())), outcome: command.Bad, err: c.cfgErr}, true
		}
		return outcome{body: fmt.Sprintf("%s: I could not read `%s` (%s). Nothing was changed; comment again to retry.", md.Code(inv.Line), config.Path, errs.Message(c.cfgErr)), outcome: command.Failed, err: c.cfgErr}, true
	}
	if c.authorized {
		return outcome{}, false
	}
	ok, why, err := authorize(ctx, c.host, c.ev.Repo, c.cfg.Access, c.ev.Author)
	if err != nil {
		return outcome{body: fmt.Sprintf("%s: I could not check your permissions (%s). Nothing was changed; comment again to retry.", md.Code(inv.Line), errs.Message(err)), outcome: command.Failed, err: err}, true
	}
	if !ok {
		// The verb only: a refusal does not echo arguments.
		return outcome{body: fmt.Sprintf("Sorry %s, %s, so I did not run %s. Ask someone with access to run it.", md.Mention(c.ev.Author), why, md.Code(command.VerbOf(inv.Line))), outcome: command.Refuse, err: errs.Refused("%s", why)}, true
	}
	c.authorized = true
	return outcome{}, false
}

// request is what a verb gets for one command in the repository of snap.
func (c *commentRun) request(line string, args []string, host forge.Forge, snap *snapshot.Snapshot, cfg *config.Config) *command.Request {
	req := &command.Request{
		Line: line, Args: args,
		Host: host, Repo: snap.Repo, Config: cfg,
		Files:     snap,
		Owners:    c.bot.Owners,
		Charts:    c.bot.Charts,
		Providers: c.bot.Providers,
		Author:    c.ev.Author, Thread: c.ev.Thread, IsPR: c.ev.IsPR,
	}
	if c.bot.Verifier != nil {
		req.Merges = c.bot
	}
	if o, ok := c.bot.Owners.(workload.Objects); ok { // the clusters read both ways
		req.Objects = o
	}
	return req
}

// inOtherRepo runs a command again in the repository that owns the
// workload, when the host can reach it and the commenter may change it.
func (c *commentRun) inOtherRepo(ctx context.Context, ew *workload.Elsewhere, inv command.Invocation, args []string) (command.Result, error) {
	where := fmt.Sprintf("the workload is applied by %s from %s, not from this repository", md.Code(ew.Owner), md.Code(ew.URL))
	opener, ok := c.host.(forge.Opener)
	if !ok {
		return command.Result{}, errs.Refused("%s; make the change there.", where)
	}
	f, repo, err := opener.OpenRepo(ctx, ew.URL)
	if errors.Is(err, forge.ErrNotFound) {
		return command.Result{}, errs.Refused("%s, and the bot cannot reach that repository (is it installed there?), so I opened nothing.", where)
	}
	if err != nil {
		return command.Result{}, err
	}
	snap, done := c.bot.Snapshots.Open(ctx, f, repo)
	defer done()
	cfg, err := config.Load(ctx, snap.Reader, repo, repo.DefaultBranch)
	var ce *config.Error
	if errors.As(err, &ce) {
		return command.Result{}, errs.Refused("%s, whose config is invalid:\n\n%s", where, md.CodeBlock("", ce.Error()))
	}
	if err != nil {
		return command.Result{}, err
	}
	ok, why, err := authorize(ctx, f, repo, cfg.Access, c.ev.Author)
	if err != nil {
		return command.Result{}, err
	}
	if !ok {
		return command.Result{}, errs.Refused("%s; sorry %s, there %s, so I did not run it.", where, md.Mention(c.ev.Author), why)
	}
	v, _ := command.Lookup(inv.Verb)
	if _, err := command.Parse(v, inv.Args); err != nil { // a fresh verb holds the flags
		return command.Result{}, err
	}
	req := c.request(inv.Line, args, f, snap, cfg)
	req.Redirected = true
	res, err := v.Run(ctx, req)
	if err != nil {
		return res, err
	}
	res.Body = fmt.Sprintf("The workload is applied from %s, so the change is there.\n\n%s", md.Code(repo.FullName()), res.Body)
	return res, nil
}

func knownVerbs() string {
	var names []string
	for _, v := range command.All() {
		names = append(names, md.Code("/"+v.Spec().Name))
	}
	return strings.Join(names, ", ")
}
