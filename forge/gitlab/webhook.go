package gitlab

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/hook"
	"github.com/gitops-bot/gitops-bot/forge/inbox"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	gl "gitlab.com/gitlab-org/api/client-go"
)

// Handler is what the webhook hands decoded events to.
type Handler interface {
	forge.CommentHandler
	forge.MergeHandler
	forge.PullHandler
}

// Options tune the webhook endpoint.
type Options struct {
	Secret  string // the webhook's secret token; required
	BotUser string // the bot's own username: its notes are ignored
	// Token is the bot's API token, which git also fetches with (for the
	// local mirrors); empty: reads go through the API.
	Token string
	hook.Options
}

var deliveries = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "gitops_bot_gitlab_deliveries_total",
	Help: "GitLab webhook deliveries, by event and result (accepted, duplicate, ignored, unauthorized, invalid, too_large, over_capacity, failed).",
}, []string{"event", "result"})

// Webhook serves /api/gitlab/hook.
type Webhook struct {
	api   *gl.Client
	next  Handler
	o     Options
	queue *hook.Queue
	seen  *hook.Seen
}

// NewWebhook checks the secret token of every delivery in constant time,
// answers at once and handles the event on a bounded queue; retries of an
// event (same Idempotency-Key or X-Gitlab-Event-UUID) are acknowledged and
// dropped. api is the bot user's API client.
func NewWebhook(api *gl.Client, h Handler, o Options) (*Webhook, error) {
	if o.Secret == "" {
		return nil, errors.New("gitlab: a webhook secret token is required")
	}
	o.Defaults()
	w := &Webhook{api: api, next: h, o: o,
		queue: hook.NewQueue(o.Context, o.QueueSize, o.Workers, o.Timeout, o.Log),
		seen:  hook.NewSeen(o.Remember, 0),
	}
	if o.Inbox != nil {
		go w.resume(o.Intake)
	}
	return w, nil
}

func (w *Webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	event := r.Header.Get("X-Gitlab-Event")
	answer := func(code int, result, msg string) {
		deliveries.WithLabelValues(event, result).Inc()
		http.Error(rw, msg, code)
	}
	if r.Method != http.MethodPost {
		answer(http.StatusMethodNotAllowed, "invalid", "POST only")
		return
	}
	token := r.Header.Get("X-Gitlab-Token")
	if subtle.ConstantTimeCompare([]byte(token), []byte(w.o.Secret)) != 1 {
		answer(http.StatusUnauthorized, "unauthorized", "missing or wrong X-Gitlab-Token")
		return
	}
	if r.ContentLength > w.o.MaxBodyBytes {
		answer(http.StatusRequestEntityTooLarge, "too_large", "payload too large")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, w.o.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		answer(http.StatusRequestEntityTooLarge, "too_large", "payload too large")
		return
	case err != nil:
		answer(http.StatusBadRequest, "invalid", "reading body: "+err.Error())
		return
	case !json.Valid(body):
		answer(http.StatusBadRequest, "invalid", "body is not JSON")
		return
	}
	id := r.Header.Get("Idempotency-Key")
	if id == "" {
		id = r.Header.Get("X-Gitlab-Event-UUID")
	}
	run, err := w.decode(event, id, body)
	if err != nil {
		answer(http.StatusBadRequest, "invalid", err.Error())
		return
	}
	if run == nil {
		// An event the bot does not act on: a 2xx, so GitLab keeps the hook enabled.
		deliveries.WithLabelValues(event, "ignored").Inc()
		rw.WriteHeader(http.StatusAccepted)
		return
	}
	keep := w.o.Inbox != nil
	if keep {
		if id == "" { // an older GitLab: the body stands for the delivery
			sum := sha256.Sum256(body)
			id = "body-" + hex.EncodeToString(sum[:12])
		}
		first, err := w.o.Inbox.Accept(r.Context(), inbox.Delivery{Host: "gitlab", ID: id, Event: event, Payload: body})
		switch {
		case errors.Is(err, inbox.ErrTooLarge):
			// Rare (a huge merge request description): handled in memory,
			// as without a store, rather than refused.
			w.o.Log.Warn("delivery too large for the store: not kept", "event", event, "delivery", id, "bytes", len(body))
			keep = false
		case err != nil:
			answer(http.StatusInternalServerError, "failed", "keeping the delivery: "+err.Error())
		case !first:
			deliveries.WithLabelValues(event, "duplicate").Inc()
			rw.WriteHeader(http.StatusAccepted)
		default:
			// Kept: a full queue does not refuse it; resume queues it later.
			w.enqueue(r.Context(), event, id, true, run)
			deliveries.WithLabelValues(event, "accepted").Inc()
			rw.WriteHeader(http.StatusAccepted)
		}
		if keep {
			return
		}
	}
	if id != "" && !w.seen.First(id) {
		deliveries.WithLabelValues(event, "duplicate").Inc()
		rw.WriteHeader(http.StatusAccepted)
		return
	}
	queued := w.queue.Push(event, func(ctx context.Context) error {
		err := run(ctx, NewClient(w.api).WithGitToken(w.o.Token))
		if err != nil {
			deliveries.WithLabelValues(event, "failed").Inc()
		}
		return err
	})
	if !queued {
		if id != "" {
			w.seen.Forget(id) // refused: a retry is welcome
		}
		answer(http.StatusServiceUnavailable, "over_capacity", "queue full, retry later")
		return
	}
	deliveries.WithLabelValues(event, "accepted").Inc()
	rw.WriteHeader(http.StatusAccepted)
}

// The parts of GitLab's payloads the bot reads. Decoding only these keeps a
// quirk elsewhere (the docs' own note example has a malformed timestamp)
// from losing an event.
type project struct {
	PathWithNamespace string `json:"path_with_namespace"`
	DefaultBranch     string `json:"default_branch"`
	GitHTTPURL        string `json:"git_http_url"`
}

type user struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
}

type notePayload struct {
	ObjectKind       string  `json:"object_kind"`
	User             user    `json:"user"`
	Project          project `json:"project"`
	ObjectAttributes struct {
		ID           int64  `json:"id"`
		Note         string `json:"note"`
		NoteableType string `json:"noteable_type"`
		Action       string `json:"action"`
	} `json:"object_attributes"`
	MergeRequest *struct {
		IID   int64  `json:"iid"`
		State string `json:"state"` // opened, closed, merged, locked
	} `json:"merge_request"`
	Issue *struct {
		IID   int64  `json:"iid"`
		State string `json:"state"` // opened, closed
	} `json:"issue"`
}

type mergePayload struct {
	ObjectKind       string  `json:"object_kind"`
	Project          project `json:"project"`
	ObjectAttributes struct {
		IID            int64  `json:"iid"`
		Action         string `json:"action"`
		State          string `json:"state"`
		TargetBranch   string `json:"target_branch"`
		SourceProject  int64  `json:"source_project_id"`
		TargetProject  int64  `json:"target_project_id"`
		MergeCommitSHA string `json:"merge_commit_sha"`
		Description    string `json:"description"`
		// OldRev is set on an update that pushed commits.
		OldRev     string `json:"oldrev"`
		LastCommit struct {
			ID string `json:"id"`
		} `json:"last_commit"`
	} `json:"object_attributes"`
}

func repoOf(p project) (forge.Repo, error) {
	full := p.PathWithNamespace
	i := strings.LastIndex(full, "/")
	if i <= 0 || i == len(full)-1 {
		return forge.Repo{}, errors.New("the payload names no project")
	}
	return forge.Repo{Host: "gitlab", Owner: full[:i], Name: full[i+1:], DefaultBranch: p.DefaultBranch, CloneURL: p.GitHTTPURL}, nil
}

// decode returns the work of an event, or nil when there is none.
func (w *Webhook) decode(event, delivery string, body []byte) (func(ctx context.Context, c *Client) error, error) {
	switch event {
	case "Note Hook":
		var p notePayload
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, err
		}
		a := p.ObjectAttributes
		if a.Action != "" && a.Action != "create" {
			return nil, nil // edits never run commands
		}
		if w.isBot(p.User.Username) {
			return nil, nil
		}
		ev := forge.CommentEvent{CommentID: a.ID, Body: a.Note, Author: p.User.Username, DeliveryID: delivery}
		switch {
		case a.NoteableType == "MergeRequest" && p.MergeRequest != nil:
			ev.Thread, ev.IsPR, ev.Closed = int(p.MergeRequest.IID), true, p.MergeRequest.State == "closed"
		case a.NoteableType == "Issue" && p.Issue != nil:
			ev.Thread, ev.Closed = int(p.Issue.IID), p.Issue.State == "closed"
		default:
			return nil, nil // notes on commits and snippets
		}
		repo, err := repoOf(p.Project)
		if err != nil {
			return nil, err
		}
		ev.Repo = repo
		return func(ctx context.Context, c *Client) error { return w.next.HandleComment(ctx, c, ev) }, nil
	case "Merge Request Hook":
		var p mergePayload
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, err
		}
		a := p.ObjectAttributes
		// Opened, reopened, or updated with new commits: a new head for
		// the config check.
		newHead := a.Action == "open" || a.Action == "reopen" || a.Action == "update" && a.OldRev != ""
		if a.Action != "merge" && !newHead {
			return nil, nil
		}
		repo, err := repoOf(p.Project)
		if err != nil {
			return nil, err
		}
		if newHead {
			ev := forge.PullEvent{Repo: repo, Number: int(a.IID), HeadSHA: a.LastCommit.ID, Base: a.TargetBranch, Fork: a.SourceProject != a.TargetProject}
			return func(ctx context.Context, c *Client) error { return w.next.HandlePull(ctx, c, ev) }, nil
		}
		ev := forge.MergeEvent{Repo: repo, Pull: forge.PullInfo{Number: int(a.IID), Merged: true, MergeSHA: a.MergeCommitSHA, Base: a.TargetBranch, Body: a.Description}}
		return func(ctx context.Context, c *Client) error { return w.next.HandleMerge(ctx, c, ev) }, nil
	}
	return nil, nil
}

// isBot: the bot's own notes, and GitLab's project and group bot users.
func (w *Webhook) isBot(username string) bool {
	u := strings.ToLower(username)
	return (w.o.BotUser != "" && strings.EqualFold(username, w.o.BotUser)) ||
		strings.HasSuffix(u, "[bot]") || strings.HasPrefix(u, "project_") && strings.Contains(u, "_bot") || strings.HasPrefix(u, "group_") && strings.Contains(u, "_bot")
}

// Repos reaches projects by path with the bot user's token.
type Repos struct {
	API   *gl.Client
	Token string // git's token (the API's); empty: no mirror
}

// OpenRepo implements alerts.RepoOpener.
func (k Repos) OpenRepo(ctx context.Context, fullName string) (forge.Forge, forge.Repo, error) {
	p, resp, err := k.API.Projects.GetProject(fullName, nil, gl.WithContext(ctx))
	if err != nil {
		return nil, forge.Repo{}, wrap(resp, err, "project "+fullName)
	}
	repo, err := repoOf(project{PathWithNamespace: p.PathWithNamespace, DefaultBranch: p.DefaultBranch, GitHTTPURL: p.HTTPURLToRepo})
	return NewClient(k.API).WithGitToken(k.Token), repo, err
}

// OpenRepo reaches another project of the same GitLab by its URL, for a
// change that belongs there (forge.Opener).
func (c *Client) OpenRepo(ctx context.Context, url string) (forge.Forge, forge.Repo, error) {
	path := strings.TrimSuffix(strings.TrimSuffix(url, "/"), ".git")
	if i := strings.Index(path, "://"); i >= 0 {
		path = path[i+3:]
	} else if at := strings.Index(path, "@"); at >= 0 {
		path = strings.Replace(path[at+1:], ":", "/", 1) // git@host:group/project
	}
	_, path, ok := strings.Cut(path, "/") // drop the host
	if !ok || !strings.Contains(path, "/") {
		return nil, forge.Repo{}, fmt.Errorf("%s is not a project URL: %w", url, forge.ErrNotFound)
	}
	return Repos{API: c.gl}.OpenRepo(ctx, path)
}

// Connector gives the verifier the bot user's client.
type Connector struct{ API *gl.Client }

// Checks returns a client for the repository.
func (k Connector) Checks(context.Context, forge.Repo) (forge.Checks, error) {
	return NewClient(k.API), nil
}

// enqueue queues a kept delivery unless it is queued already; false when
// the queue is full. held: just accepted here, so not to be claimed.
func (w *Webhook) enqueue(ctx context.Context, event, id string, held bool, run func(context.Context, *Client) error) bool {
	return w.o.Flight.Run(ctx, "gitlab", id, held, func(f func(context.Context) error) bool { return w.queue.Push(event, f) }, func(ctx context.Context) error {
		err := run(ctx, NewClient(w.api).WithGitToken(w.o.Token))
		if err != nil && ctx.Err() == nil {
			deliveries.WithLabelValues(event, "failed").Inc()
		}
		return err
	})
}

// resumeEvery is how often kept deliveries not queued are queued again.
const resumeEvery = 2 * time.Second

// resume queues the kept GitLab deliveries at start, and those the queue
// could not take since, until ctx ends.
func (w *Webhook) resume(ctx context.Context) {
	inbox.Resume(ctx, w.o.Inbox, "gitlab", resumeEvery, func(d inbox.Delivery) bool {
		run, err := w.decode(d.Event, d.ID, d.Payload)
		if err != nil || run == nil {
			w.o.Inbox.Done(ctx, d.Host, d.ID) //nolint:errcheck // nothing to run: drop it
			return true
		}
		return w.enqueue(ctx, d.Event, d.ID, false, run)
	}, w.o.Log)
}
