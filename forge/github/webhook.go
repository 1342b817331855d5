package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v66/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"k8s.io/utils/lru"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/hook"
	"github.com/gitops-bot/gitops-bot/forge/inbox"
)

// Options tune the webhook endpoint.
type Options struct {
	Secret string // webhook secret; required
	// WebURL is where this GitHub serves git (DefaultWebURL when empty;
	// the web address of a GitHub Enterprise Server).
	WebURL string
	hook.Options
}

var deliveries = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "gitops_bot_github_deliveries_total",
	Help: "GitHub webhook deliveries, by event and result (accepted, duplicate, invalid, too_large, over_capacity, failed).",
}, []string{"event", "result"})

// Handler is what the webhook hands decoded events to.
type Handler interface {
	forge.CommentHandler
	forge.MergeHandler
	forge.PullHandler
}

// NewWebhook returns the handler of /api/github/hook: it checks the HMAC
// signature (go-githubapp), answers 202 at once and handles the delivery on
// a bounded queue. Redeliveries of a delivery ID are accepted and dropped.
func NewWebhook(cc githubapp.ClientCreator, h Handler, o Options) (http.Handler, error) {
	if o.Secret == "" {
		return nil, errors.New("github: a webhook secret is required")
	}
	o.Defaults()
	log := o.Log
	queue := githubapp.QueueAsyncScheduler(o.QueueSize, o.Workers,
		githubapp.WithContextDeriver(func(context.Context) context.Context { return o.Context }),
		githubapp.WithAsyncErrorCallback(func(ctx context.Context, d githubapp.Dispatch, err error) {
			deliveries.WithLabelValues(d.EventType, "failed").Inc()
			log.Error("handling delivery", "event", d.EventType, "delivery", d.DeliveryID, "err", err)
		}),
	)
	base := events{cc: cc, webURL: o.WebURL, next: h, timeout: o.Timeout}
	handlers := []githubapp.EventHandler{&commentEvents{base}, &pullEvents{base}, &checkEvents{base}}
	sched := &admit{next: queue, seen: lru.New(o.Remember), inbox: o.Inbox, flight: o.Flight, log: log}
	if o.Inbox != nil {
		sched.index(handlers)
		go sched.resume(o.Intake)
	}
	d := githubapp.NewEventDispatcher(handlers, o.Secret,
		githubapp.WithScheduler(sched),
		githubapp.WithErrorCallback(func(w http.ResponseWriter, r *http.Request, err error) {
			event := r.Header.Get("X-GitHub-Event")
			var ve githubapp.ValidationError
			var tooBig *http.MaxBytesError
			switch {
			case errors.As(err, &ve) && errors.As(ve.Cause, &tooBig):
				deliveries.WithLabelValues(event, "too_large").Inc()
				http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
			case errors.As(err, &ve):
				deliveries.WithLabelValues(event, "invalid").Inc()
				log.Warn("refused delivery", "event", event, "delivery", r.Header.Get("X-GitHub-Delivery"), "err", ve.Cause)
				http.Error(w, "invalid webhook: "+ve.Cause.Error(), http.StatusBadRequest)
			case errors.Is(err, githubapp.ErrCapacityExceeded):
				deliveries.WithLabelValues(event, "over_capacity").Inc()
				http.Error(w, "queue full, redeliver later", http.StatusServiceUnavailable)
			default:
				deliveries.WithLabelValues(event, "failed").Inc()
				http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			}
		}),
		githubapp.WithResponseCallback(func(w http.ResponseWriter, r *http.Request, event string, handled bool) {
			if event == "ping" {
				w.WriteHeader(http.StatusOK)
				return
			}
			// Everything else is accepted for later (or needs no work).
			w.WriteHeader(http.StatusAccepted)
		}),
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		if r.ContentLength > o.MaxBodyBytes {
			deliveries.WithLabelValues(r.Header.Get("X-GitHub-Event"), "too_large").Inc()
			http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
			return
		}
		// GitHub signs every delivery with SHA-256; a SHA-1 signature alone
		// (X-Hub-Signature) is the weaker legacy one, not accepted here.
		if r.Header.Get("X-Hub-Signature-256") == "" {
			deliveries.WithLabelValues(r.Header.Get("X-GitHub-Event"), "invalid").Inc()
			http.Error(w, "invalid webhook: X-Hub-Signature-256 is missing (a SHA-1 X-Hub-Signature alone is not accepted)", http.StatusBadRequest)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, o.MaxBodyBytes)
		d.ServeHTTP(w, r)
	}), nil
}

// triage reads a delivery once on the hot path: a payload of an event the
// bot acts on must name its repository (else 400, before any API call),
// and work tells whether it may need the bot at all: a new comment with a
// line that starts with "/", a merged pull request, a pull request opened
// or pushed to (its config check), a check run to run again. Other
// deliveries are acknowledged and dropped.
func triage(event string, payload []byte) (work bool, err error) {
	switch event {
	case "issue_comment", "pull_request", "check_run":
	default:
		return false, nil
	}
	var p struct {
		Action     string `json:"action"`
		Repository *struct {
			Name  string `json:"name"`
			Owner struct {
				Login string `json:"login"`
			} `json:"owner"`
		} `json:"repository"`
		Comment struct {
			Body string `json:"body"`
		} `json:"comment"`
		PullRequest struct {
			Merged bool `json:"merged"`
		} `json:"pull_request"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return false, fmt.Errorf("the payload does not parse: %w", err)
	}
	if p.Repository == nil || p.Repository.Name == "" || p.Repository.Owner.Login == "" {
		return false, errors.New("the payload names no repository (repository.name and repository.owner.login)")
	}
	switch event {
	case "issue_comment":
		if p.Action != "created" {
			return false, nil
		}
		for _, line := range strings.Split(p.Comment.Body, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "/") {
				return true, nil
			}
		}
		return false, nil
	case "pull_request":
		return p.Action == "closed" && p.PullRequest.Merged || pullChanged(p.Action), nil
	}
	return p.Action == "rerequested" || p.Action == "requested_action", nil
}

// admit stands between the signature check and the queue: it refuses a
// body that is not JSON (so the sender hears of it, rather than a worker
// failing later) and drops deliveries whose ID it has queued before. An ID is
// only remembered once queued, so a delivery refused with 503 can be redelivered.
type admit struct {
	next githubapp.Scheduler
	mu   sync.Mutex
	seen *lru.Cache

	inbox   inbox.Inbox // nil: deliveries live in memory only
	flight  *inbox.Flight
	log     *slog.Logger
	byEvent map[string]githubapp.EventHandler
}

func (s *admit) Schedule(ctx context.Context, d githubapp.Dispatch) error {
	if !json.Valid(d.Payload) {
		return githubapp.ValidationError{EventType: d.EventType, DeliveryID: d.DeliveryID, Cause: errors.New("body is not JSON")}
	}
	if d.DeliveryID == "" {
		// Without it a redelivery cannot be told from a new event.
		return githubapp.ValidationError{EventType: d.EventType, Cause: errors.New("X-GitHub-Delivery is missing")}
	}
	work, err := triage(d.EventType, d.Payload)
	if err != nil {
		return githubapp.ValidationError{EventType: d.EventType, DeliveryID: d.DeliveryID, Cause: err}
	}
	if !work {
		// Most deliveries (comments without a command, events the bot
		// ignores) are acknowledged here: no queue, no write.
		deliveries.WithLabelValues(d.EventType, "nothing_to_do").Inc()
		return nil
	}
	if s.inbox != nil {
		err := s.accept(ctx, d)
		if !errors.Is(err, inbox.ErrTooLarge) {
			return err
		}
		// Rare (a huge pull request body): handled in memory, as without
		// a store, rather than refused.
		s.log.Warn("delivery too large for the store: not kept", "event", d.EventType, "delivery", d.DeliveryID, "bytes", len(d.Payload))
	}
	{
		s.mu.Lock()
		if _, dup := s.seen.Get(d.DeliveryID); dup {
			s.mu.Unlock()
			deliveries.WithLabelValues(d.EventType, "duplicate").Inc()
			return nil
		}
		s.seen.Add(d.DeliveryID, struct{}{})
		s.mu.Unlock()
	}
	if err := s.next.Schedule(ctx, d); err != nil {
		s.mu.Lock()
		s.seen.Remove(d.DeliveryID)
		s.mu.Unlock()
		return err
	}
	deliveries.WithLabelValues(d.EventType, "accepted").Inc()
	return nil
}

// events holds what every event handler needs.
type events struct {
	cc      githubapp.ClientCreator
	webURL  string
	next    Handler
	timeout time.Duration
}

// client returns the installation's forge, with a deadline for the delivery.
func (e events) client(ctx context.Context, inst int64, deliveryID string) (*Client, context.Context, context.CancelFunc, error) {
	if inst == 0 {
		return nil, nil, nil, fmt.Errorf("delivery %s has no installation: is this a GitHub App webhook?", deliveryID)
	}
	c, err := NewInstallationClient(e.cc, inst, e.webURL)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	return c, ctx, cancel, nil
}

// commentEvents decodes issue_comment deliveries into forge.CommentEvent.
type commentEvents struct{ events }

func (h *commentEvents) Handles() []string { return []string{"issue_comment"} }

func (h *commentEvents) Handle(ctx context.Context, _, deliveryID string, payload []byte) error {
	var e github.IssueCommentEvent
	if err := json.Unmarshal(payload, &e); err != nil {
		return fmt.Errorf("decoding issue_comment: %w", err)
	}
	if e.GetAction() != "created" {
		return nil // edits and deletions never run commands
	}
	c, ctx, cancel, err := h.client(ctx, e.GetInstallation().GetID(), deliveryID)
	if err != nil {
		return err
	}
	defer cancel()
	return h.next.HandleComment(ctx, c, commentEvent(&e, deliveryID))
}

func commentEvent(e *github.IssueCommentEvent, deliveryID string) forge.CommentEvent {
	user := e.GetComment().GetUser()
	return forge.CommentEvent{
		Repo:        repoOf(e.GetRepo(), e.GetInstallation()),
		Thread:      e.GetIssue().GetNumber(),
		IsPR:        e.GetIssue().IsPullRequest(),
		CommentID:   e.GetComment().GetID(),
		Body:        e.GetComment().GetBody(),
		Author:      user.GetLogin(),
		AuthorIsBot: user.GetType() == "Bot" || strings.HasSuffix(user.GetLogin(), "[bot]"),
		DeliveryID:  deliveryID,
		Closed:      e.GetIssue().GetState() == "closed" && e.GetIssue().GetPullRequestLinks().GetMergedAt().IsZero(),
	}
}

func repoOf(repo *github.Repository, inst *github.Installation) forge.Repo {
	return forge.Repo{
		Host:          "github",
		Owner:         repo.GetOwner().GetLogin(),
		Name:          repo.GetName(),
		DefaultBranch: repo.GetDefaultBranch(),
		CloneURL:      repo.GetCloneURL(),
		Installation:  inst.GetID(),
	}
}

// pullChanged: a pull request action that brings a new head commit.
func pullChanged(action string) bool {
	return action == "opened" || action == "synchronize" || action == "reopened"
}

// pullEvents hands merged pull requests to verification, and new heads to
// the config check.
type pullEvents struct{ events }

func (h *pullEvents) Handles() []string { return []string{"pull_request"} }

func (h *pullEvents) Handle(ctx context.Context, _, deliveryID string, payload []byte) error {
	var e github.PullRequestEvent
	if err := json.Unmarshal(payload, &e); err != nil {
		return fmt.Errorf("decoding pull_request: %w", err)
	}
	merged := e.GetAction() == "closed" && e.GetPullRequest().GetMerged()
	if !merged && !pullChanged(e.GetAction()) {
		return nil
	}
	c, ctx, cancel, err := h.client(ctx, e.GetInstallation().GetID(), deliveryID)
	if err != nil {
		return err
	}
	defer cancel()
	repo := repoOf(e.GetRepo(), e.GetInstallation())
	if !merged {
		pr := e.GetPullRequest()
		return h.next.HandlePull(ctx, c, forge.PullEvent{Repo: repo, Number: pr.GetNumber(), HeadSHA: pr.GetHead().GetSHA(),
			Base: pr.GetBase().GetSHA(), Fork: pr.GetHead().GetRepo().GetFullName() != pr.GetBase().GetRepo().GetFullName()})
	}
	return h.next.HandleMerge(ctx, c, forge.MergeEvent{Repo: repo, Pull: pullInfo(e.GetPullRequest())})
}

// checkEvents: the "Re-run" button of one of the bot's checks.
type checkEvents struct{ events }

func (h *checkEvents) Handles() []string { return []string{"check_run"} }

// checkRunEvent is the part of a check_run delivery the bot reads. Decoding
// only that keeps a quirk elsewhere in the payload (real deliveries have
// carried timestamps go-github's CheckRunEvent refuses) from losing a re-run.
type checkRunEvent struct {
	Action   string `json:"action"`
	CheckRun struct {
		Name       string `json:"name"`
		ExternalID string `json:"external_id"`
	} `json:"check_run"`
	Repo         *github.Repository   `json:"repository"`
	Installation *github.Installation `json:"installation"`
}

func (h *checkEvents) Handle(ctx context.Context, _, deliveryID string, payload []byte) error {
	var e checkRunEvent
	if err := json.Unmarshal(payload, &e); err != nil {
		return fmt.Errorf("decoding check_run: %w", err)
	}
	if e.Action != "rerequested" || !strings.HasPrefix(e.CheckRun.Name, forge.SyncCheckPrefix) {
		return nil
	}
	pr, env, err := forge.ParseSyncCheckID(e.CheckRun.ExternalID)
	if err != nil {
		return err
	}
	c, ctx, cancel, err := h.client(ctx, e.Installation.GetID(), deliveryID)
	if err != nil {
		return err
	}
	defer cancel()
	repo := repoOf(e.Repo, e.Installation)
	info, err := c.Pull(ctx, repo, pr)
	if err != nil {
		return err
	}
	return h.next.HandleMerge(ctx, c, forge.MergeEvent{Repo: repo, Pull: info, Env: env})
}

// accept writes a delivery that carries work to the inbox before it is
// acknowledged, then queues it. A full queue does not refuse it: it is
// safe in the inbox, and resume queues it when there is room.
func (s *admit) accept(ctx context.Context, d githubapp.Dispatch) error {
	first, err := s.inbox.Accept(ctx, inbox.Delivery{Host: "github", ID: d.DeliveryID, Event: d.EventType, Payload: d.Payload})
	if err != nil {
		return fmt.Errorf("keeping the delivery: %w", err) // 500: the store cannot take it, GitHub shows it failed
	}
	if !first {
		deliveries.WithLabelValues(d.EventType, "duplicate").Inc()
		return nil
	}
	deliveries.WithLabelValues(d.EventType, "accepted").Inc()
	s.enqueue(ctx, d, true)
	return nil
}

// enqueue queues a kept delivery unless it is queued already; false when
// the queue is full (resume tries again). held: just accepted here, so not
// to be claimed.
func (s *admit) enqueue(ctx context.Context, d githubapp.Dispatch, held bool) bool {
	h := d.Handler
	return s.flight.Run(ctx, "github", d.DeliveryID, held, func(work func(context.Context) error) bool {
		d.Handler = handlerFunc(work)
		return s.next.Schedule(ctx, d) == nil
	}, func(ctx context.Context) error { return h.Handle(ctx, d.EventType, d.DeliveryID, d.Payload) })
}

// index maps events to their handlers, for the deliveries resumed.
func (s *admit) index(hs []githubapp.EventHandler) {
	s.byEvent = map[string]githubapp.EventHandler{}
	for _, h := range hs {
		for _, e := range h.Handles() {
			s.byEvent[e] = h
		}
	}
}

// handlerFunc runs a kept delivery's work on the scheduler's workers.
type handlerFunc func(context.Context) error

func (handlerFunc) Handles() []string { return nil }

func (f handlerFunc) Handle(ctx context.Context, _, _ string, _ []byte) error { return f(ctx) }

// resumeEvery is how often kept deliveries that are not queued (the queue
// was full, or the bot restarted) are queued again.
const resumeEvery = 2 * time.Second

// resume queues the kept deliveries at start, and those the queue could
// not take since, until ctx ends.
func (s *admit) resume(ctx context.Context) {
	inbox.Resume(ctx, s.inbox, "github", resumeEvery, func(d inbox.Delivery) bool {
		h, ok := s.byEvent[d.Event]
		if !ok {
			s.inbox.Done(ctx, d.Host, d.ID) //nolint:errcheck // nothing handles it: drop it
			return true
		}
		return s.enqueue(ctx, githubapp.Dispatch{Handler: h, EventType: d.Event, DeliveryID: d.ID, Payload: d.Payload}, false)
	}, s.log)
}
