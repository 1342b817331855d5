package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/gitops-bot/gitops-bot/bot/activity"
	"github.com/gitops-bot/gitops-bot/bot/command"
	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/logctx"
	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/bot/snapshot"
	"github.com/gitops-bot/gitops-bot/bot/workload"
	"github.com/gitops-bot/gitops-bot/forge"
)

// RepoOpener reaches a repository by "owner/name" without an event.
type RepoOpener interface {
	OpenRepo(ctx context.Context, fullName string) (forge.Forge, forge.Repo, error)
}

// Handler turns alert groups into pull requests, one per group and rule.
type Handler struct {
	Rules []Rule
	// Repos reach repositories by host ("github", "gitlab").
	Repos map[string]RepoOpener
	// Owners asks the clusters which GitOps object applies a workload; nil
	// leaves it to the repository's layout.
	Owners workload.Owners
	// Snapshots reads repositories: from local mirrors when it has them.
	Snapshots snapshot.Source
	// Charts renders charts of Helm repositories; nil: not rendered.
	Charts workload.ChartRenderer
	Log    *slog.Logger
	Now    func() time.Time
	// State keeps the cooldowns, pull requests and open counts across
	// restarts and replicas (nil: memory only).
	State StateStore
	// Activity, when set, keeps what each rule did for the status page.
	Activity *activity.Log

	// serial: alert groups are few; handling them one at a time keeps the
	// per-group state and the counts simple.
	serial sync.Mutex
	state  state
}

// HandleAlert acts on every rule a group matches.
func (h *Handler) HandleAlert(ctx context.Context, g Group) error {
	h.serial.Lock()
	defer h.serial.Unlock()
	if h.State != nil {
		data, release, err := h.State.Hold(ctx)
		if err != nil {
			return fmt.Errorf("reading the alert state: %w", err)
		}
		h.state = state{}
		if len(data) > 0 {
			if err := json.Unmarshal(data, &h.state); err != nil {
				release(ctx, data) //nolint:errcheck // handed back unchanged
				return fmt.Errorf("the alert state does not decode: %w", err)
			}
		}
		defer func() {
			b, err := json.Marshal(h.state)
			if err == nil {
				err = release(context.WithoutCancel(ctx), b)
			}
			if err != nil {
				h.log().Error("saving the alert state", "err", err)
			}
		}()
	}
	alertsReceived.Inc()
	log := h.log().With("group", g.GroupKey, "status", g.Status, "alerts", len(g.Alerts))
	ctx = logctx.With(ctx, log)
	labels := g.CommonLabels
	if len(g.Alerts) > 0 && len(labels) == 0 {
		labels = g.Alerts[0].Labels
	}
	var matched []*Rule
	var names []string
	for i := range h.Rules {
		if matchesAll(h.Rules[i].Match, labels) {
			matched = append(matched, &h.Rules[i])
			names = append(names, h.Rules[i].Name)
		}
	}
	// One line per notification: what came and which rules it matched;
	// each rule then logs what it did (a pull request, a suppression and
	// why, a dry run, an error).
	if len(matched) == 0 {
		log.Info("alert notification: no rule matched", "alertname", labels["alertname"])
		h.Activity.Add(activity.Entry{Source: "alert", What: labels["alertname"], Outcome: "no rule matched", Detail: g.GroupKey})
		return nil
	}
	log.Info("alert notification", "alertname", labels["alertname"], "rules", names)
	var errList []error
	for _, r := range matched {
		alertsMatched.WithLabelValues(r.Name).Inc()
		did, err := h.apply(logctx.With(ctx, log.With("rule", r.Name)), r, g)
		var sup *suppression
		switch {
		case errors.As(err, &sup):
			did = activity.Entry{Outcome: "suppressed", Detail: sup.reason}
		case err != nil:
			log.Error("alert rule failed", "rule", r.Name, "err", err)
			errList = append(errList, fmt.Errorf("rule %s: %w", r.Name, err))
			did = activity.Entry{Outcome: "failed", Detail: err.Error()}
		}
		did.Source, did.Repo, did.What = "alert", r.Repo, fmt.Sprintf("%s (rule %s)", labels["alertname"], r.Name)
		h.Activity.Add(did)
	}
	return errors.Join(errList...)
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) opener(r *Rule) (RepoOpener, error) {
	if o, ok := h.Repos[r.Host]; ok {
		return o, nil
	}
	if r.Host == "" && len(h.Repos) == 1 {
		for _, o := range h.Repos {
			return o, nil
		}
	}
	return nil, fmt.Errorf("no %q host is configured for repository %s", r.Host, r.Repo)
}

// suppression: a rule's action that was not taken, and why. It is not a
// failure: apply and act return it so the caller can say so.
type suppression struct{ reason string }

func (s *suppression) Error() string { return "suppressed: " + s.reason }

// suppressed counts and logs a suppression and returns it.
func suppressed(ctx context.Context, reason string, attrs ...any) error {
	alertsSuppressed.WithLabelValues(reason).Inc()
	logctx.From(ctx).Info("alert action suppressed", append([]any{"reason", reason}, attrs...)...)
	return &suppression{reason: reason}
}

// apply runs one rule on a group; the entry says what it did.
func (h *Handler) apply(ctx context.Context, r *Rule, g Group) (activity.Entry, error) {
	var did activity.Entry
	st := h.state.group(r.Name, g.GroupKey)
	opener, err := h.opener(r)
	if err != nil {
		return did, err
	}
	f, repo, err := opener.OpenRepo(ctx, r.Repo)
	if err != nil {
		return did, err
	}
	if g.Status == "resolved" {
		if st.PR > 0 && !st.Resolved {
			st.Resolved = true
			h.state.Open[r.Repo]--
			logctx.From(ctx).Info("alert group resolved: said so on its pull request", "pull", st.PR)
			did = activity.Entry{Outcome: "resolved", Detail: "said so on its pull request", Link: repo.ThreadURL(st.PR, true), LinkText: repo.PullRef(st.PR)}
			return did, f.Reply(ctx, repo, forge.Reply{Thread: st.PR, PR: true, Key: "alert-resolved",
				Body: fmt.Sprintf("The alert group has resolved (%s). Review whether this change is still wanted.", md.Code(g.GroupKey))})
		}
		logctx.From(ctx).Info("alert group resolved: nothing was opened for it")
		return activity.Entry{Outcome: "resolved", Detail: "nothing was opened for it"}, nil
	}
	name := ""
	for _, al := range g.Alerts {
		if al.Status == "firing" && al.Labels[r.WorkloadLabel] != "" {
			name = al.Labels[r.WorkloadLabel]
			break
		}
	}
	if len(validation.IsDNS1123Label(name)) > 0 {
		return did, suppressed(ctx, "unknown_workload", "label", r.WorkloadLabel)
	}
	// A group that keeps firing updates its pull request; a new action
	// waits for the cooldown and fits under the cap.
	if st.PR == 0 || st.Resolved {
		if !st.LastAction.IsZero() && h.now().Sub(st.LastAction) < r.Cooldown {
			return did, suppressed(ctx, "cooldown")
		}
		if r.MaxOpen > 0 && h.state.Open[r.Repo] >= r.MaxOpen && !r.DryRun {
			return did, suppressed(ctx, "cap", "open", h.state.Open[r.Repo])
		}
	}

	snap, done := h.Snapshots.Open(ctx, f, repo)
	defer done()
	cfg, err := config.Load(ctx, snap.Reader, repo, repo.DefaultBranch)
	if err != nil {
		return did, err
	}
	env, err := cfg.Environment(r.Env)
	if err != nil {
		return did, err
	}
	req := &command.Request{
		Host: f, Repo: repo, Config: cfg,
		Files:  snap,
		Owners: h.Owners,
		Charts: h.Charts,
		Author: "alertmanager",
		Plan:   r.DryRun,
		Branch: cfg.BranchPrefix + branchOf(r.Name, g.GroupKey),
		Origin: origin(r, g),
	}
	res, err := h.act(ctx, req, r, name, env)
	if err != nil {
		return did, err
	}
	if r.DryRun {
		logctx.From(ctx).Info("alert dry run: the change was posted, not opened", "workload", name, "issue", r.TrackingIssue)
		did = activity.Entry{Outcome: "dry run", Detail: "the change was posted, not opened", Link: repo.ThreadURL(r.TrackingIssue, false), LinkText: repo.ThreadRef(r.TrackingIssue, false)}
		return did, f.Reply(ctx, repo, forge.Reply{Thread: r.TrackingIssue, Key: "alert-" + branchOf(r.Name, g.GroupKey),
			Body: fmt.Sprintf("Dry run of alert rule %s: I would open this pull request.\n\n%s\n\n%s", md.Code(r.Name), req.Origin, res.Body)})
	}
	st.LastAction, st.Resolved = h.now(), false
	if res.PR != nil {
		result := "updated"
		if res.PR.Created || st.PR == 0 {
			result = "opened"
			h.state.Open[r.Repo]++
		}
		alertPRs.WithLabelValues(result).Inc()
		st.PR = res.PR.Number
		logctx.From(ctx).Info("alert pull request", "result", result, "workload", name, "pull_request", res.PR.URL)
		did = activity.Entry{Outcome: result, Detail: req.Line, Link: res.PR.URL, LinkText: repo.PullRef(res.PR.Number)}
	}
	return did, nil
}

// act computes the rule's change from the workload's current value and
// proposes it; nil when there is nothing to do (at the ceiling, nothing
// to roll back, a workload the repository does not hold).
func (h *Handler) act(ctx context.Context, req *command.Request, r *Rule, name string, env config.Environment) (*command.Result, error) {
	w := req.Workloads()
	var c workload.Change
	switch r.Action {
	case "rollback":
		n, err := workload.LastBotChange(ctx, req.Host, req.Repo, name, env.Name)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, suppressed(ctx, "nothing_to_roll_back", "workload", name, "env", env.Name)
		}
		req.Line = fmt.Sprintf("/rollback %d", n)
		change, envs, err := workload.Revert(ctx, req.Host, req.Files.Reader, req.Repo, req.Config, n)
		if err != nil {
			return nil, err
		}
		res, err := req.Propose(ctx, command.Proposal{Verb: change.Verb, App: change.App, Envs: envs, Provider: req.Config.Provider,
			Title: change.Title, Summary: change.Summary, Manifests: change.Manifests, Validated: true})
		return &res, err
	case "memory":
		cur, err := w.MemoryLimit(ctx, name, env)
		if err != nil {
			return nil, unknownWorkload(ctx, name, err)
		}
		next, ok := raise(cur, r.Step, r.Max)
		if !ok {
			return nil, suppressed(ctx, "ceiling", "workload", name, "memory", cur)
		}
		req.Line = fmt.Sprintf("/resources %s --memory %s --env %s", name, next, env.Name)
		if c, err = w.SetResources(ctx, name, env, "", next); err != nil {
			return nil, err
		}
	default: // scale
		cur, err := w.Replicas(ctx, name, env)
		if err != nil {
			return nil, unknownWorkload(ctx, name, err)
		}
		var step, max int
		fmt.Sscan(r.Step, &step)
		fmt.Sscan(r.Max, &max)
		if cur >= max {
			return nil, suppressed(ctx, "ceiling", "workload", name, "replicas", cur)
		}
		next := min(cur+step, max)
		req.Line = fmt.Sprintf("/scale %s %d --env %s", name, next, env.Name)
		if c, err = w.Scale(ctx, name, env, next); err != nil {
			return nil, err
		}
	}
	res, err := req.ProposeChange(ctx, w, c)
	return &res, err
}

// unknownWorkload: an alert about a workload the repository does not hold
// is not an error of the bot; it is a suppression, counted and logged.
func unknownWorkload(ctx context.Context, name string, err error) error {
	if errs.KindOf(err) != errs.KindInvalid {
		return err
	}
	return suppressed(ctx, "unknown_workload", "workload", name, "err", err.Error())
}

// raise adds step to the quantity cur (step alone when cur is unset),
// bounded by max; ok is false when cur is already at or above the result.
func raise(cur, step, max string) (string, bool) {
	s, m := resource.MustParse(step), resource.MustParse(max)
	next := s.DeepCopy()
	q, err := resource.ParseQuantity(cur)
	if err == nil {
		next = q.DeepCopy()
		next.Add(s)
	}
	if next.Cmp(m) > 0 {
		next = m
	}
	if err == nil && q.Cmp(next) >= 0 {
		return "", false
	}
	return next.String(), true
}
