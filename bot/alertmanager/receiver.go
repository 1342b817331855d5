// Package alertmanager receives Prometheus Alertmanager webhook
// notifications on /api/alerts/alertmanager: bearer token required and
// compared in constant time, answered at once, handled on a bounded queue,
// retries of a notification acknowledged and dropped.
package alertmanager

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
	"sort"
	"strings"
	"time"

	"github.com/gitops-bot/gitops-bot/bot/alerts"
	"github.com/gitops-bot/gitops-bot/forge/hook"
	"github.com/gitops-bot/gitops-bot/forge/inbox"
)

// Handler acts on a notification (bot.Alerts).
type Handler interface {
	HandleAlert(ctx context.Context, g alerts.Group) error
}

// Options tune the receiver.
type Options struct {
	Token string           // bearer token; required
	Now   func() time.Time // default time.Now
	hook.Options
}

// Receiver is the HTTP handler.
type Receiver struct {
	next  Handler
	o     Options
	queue *hook.Queue
	seen  *hook.Seen
}

// New returns a receiver; its workers run until o.Context ends.
func New(h Handler, o Options) (*Receiver, error) {
	if o.Token == "" {
		return nil, errors.New("alertmanager: a bearer token is required")
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 5 << 20 // a notification is small
	}
	o.Defaults()
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Receiver{next: h, o: o,
		queue: hook.NewQueue(o.Context, o.QueueSize, o.Workers, o.Timeout, o.Log),
		seen:  hook.NewSeen(10000, retryWindow),
	}
	if o.Inbox != nil {
		go inbox.Resume(o.Intake, o.Inbox, host, 2*time.Second, func(d inbox.Delivery) bool {
			var g alerts.Group
			if json.Unmarshal(d.Payload, &g) != nil {
				o.Inbox.Done(o.Context, d.Host, d.ID) //nolint:errcheck // not a notification: drop it
				return true
			}
			return r.enqueue(o.Context, d.ID, false, g)
		}, o.Log)
	}
	return r, nil
}

// host names the notifications in the inbox.
const host = "alertmanager"

func (r *Receiver) enqueue(ctx context.Context, id string, held bool, g alerts.Group) bool {
	return r.o.Flight.Run(ctx, host, id, held, func(f func(context.Context) error) bool { return r.queue.Push("alert "+g.Status, f) },
		func(ctx context.Context) error { return r.next.HandleAlert(ctx, g) })
}

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	token, _ := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	if subtle.ConstantTimeCompare([]byte(token), []byte(r.o.Token)) != 1 {
		http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.o.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
		return
	}
	var g alerts.Group
	if err != nil || json.Unmarshal(body, &g) != nil {
		http.Error(w, "body is not an Alertmanager notification", http.StatusBadRequest)
		return
	}
	if g.Version != "4" || g.GroupKey == "" || (g.Status != "firing" && g.Status != "resolved") {
		http.Error(w, fmt.Sprintf("unsupported notification (version %q, status %q): want version 4 with a groupKey", g.Version, g.Status), http.StatusBadRequest)
		return
	}
	id := identity(g)
	if r.o.Inbox != nil {
		// Alertmanager retries a notification it could not deliver within
		// retryWindow; the same one later is a repeat of a group that
		// keeps firing (firing alerts carry no end time), to act on again.
		kept := fmt.Sprintf("%s-%d", id, r.o.Now().Unix()/int64(retryWindow/time.Second))
		first, err := r.o.Inbox.Accept(req.Context(), inbox.Delivery{Host: host, ID: kept, Event: "alert " + g.Status, Payload: body})
		switch {
		case err != nil:
			http.Error(w, "keeping the notification: "+err.Error(), http.StatusInternalServerError) // Alertmanager retries
		case first:
			r.enqueue(req.Context(), kept, true, g) // a full queue does not refuse it: resume queues it later
			fallthrough
		default:
			w.WriteHeader(http.StatusAccepted)
		}
		return
	}
	if !r.seen.First(id) {
		w.WriteHeader(http.StatusAccepted) // a retry: already queued
		return
	}
	if !r.queue.Push("alert "+g.Status, func(ctx context.Context) error { return r.next.HandleAlert(ctx, g) }) {
		r.seen.Forget(id)
		http.Error(w, "queue full, retry later", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// retryWindow: Alertmanager retries a failed notification within seconds
// to minutes; the same notification later is its repeat_interval speaking:
// the group keeps firing, and that is acted on (it updates the pull request).
const retryWindow = 5 * time.Minute

// identity names a notification: the same group, status and alerts (a
// retry) is the same notification; a re-notification of a group that keeps
// firing carries new alerts or times and is not.
func identity(g alerts.Group) string {
	var parts []string
	for _, a := range g.Alerts {
		parts = append(parts, a.Fingerprint+"/"+a.Status+"/"+a.StartsAt.String()+"/"+a.EndsAt.String())
	}
	sort.Strings(parts)
	h := sha256.Sum256([]byte(g.GroupKey + "\x00" + g.Status + "\x00" + strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:])
}
