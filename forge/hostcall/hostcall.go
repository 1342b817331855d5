// Package hostcall makes the bot's calls to a Git host's API survive the
// way hosts fail and limit: server errors, 429s and GitHub's secondary rate
// limits are retried after the wait the host asks for, and content-creating
// requests are paced under the documented limits, queued rather than
// refused. Retries are hashicorp/go-retryablehttp's (GitLab's client uses it
// too); pacing is golang.org/x/time/rate.
//
// The rules, from GitHub's "Rate limits for the REST API" and "Best
// practices for using the REST API":
//   - Retry-After: wait that many seconds;
//   - x-ratelimit-remaining 0: wait until x-ratelimit-reset;
//   - otherwise a secondary rate limit (a 403 or 429 saying so): wait at
//     least a minute, longer on each try;
//   - server errors (500, 502, 503, 504): back off exponentially, with jitter;
//   - no more than 80 content-creating requests a minute and 500 an hour.
package hostcall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/hashicorp/go-retryablehttp"
)

// Options tunes the policy; the zero value is the documented one.
type Options struct {
	// Retries per request (default 6).
	Retries int
	// SecondaryWait is the least wait after a rate limit that names no
	// time (default 1m, as GitHub asks).
	SecondaryWait time.Duration
	// ErrorWait is the first wait after a server error, doubled each try
	// (default 1s) up to MaxWait.
	ErrorWait time.Duration
	// MaxWait caps one wait the bot chooses (default 5m); a wait the host
	// asks for that ends after the request's deadline is not waited: the
	// call fails at once with the host's answer.
	MaxWait time.Duration
	// Writes are the limits on content-creating requests (POST, PATCH,
	// PUT, DELETE); default 80 a minute and 500 an hour.
	Writes []Limit
	// AttemptTimeout bounds one attempt (default 30s); the whole call,
	// waits included, is bounded by the request's context.
	AttemptTimeout time.Duration
	Log            *slog.Logger
}

// Limit is at most N requests in any window of Per.
type Limit struct {
	N   int
	Per time.Duration
}

// DefaultWrites are GitHub's documented secondary limits.
var DefaultWrites = []Limit{{N: 80, Per: time.Minute}, {N: 500, Per: time.Hour}}

func (o Options) withDefaults() Options {
	if o.Retries == 0 {
		o.Retries = 6
	}
	if o.SecondaryWait == 0 {
		o.SecondaryWait = time.Minute
	}
	if o.ErrorWait == 0 {
		o.ErrorWait = time.Second
	}
	if o.MaxWait == 0 {
		o.MaxWait = 5 * time.Minute
	}
	if o.AttemptTimeout == 0 {
		o.AttemptTimeout = 30 * time.Second
	}
	if o.Writes == nil {
		o.Writes = DefaultWrites
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Transport retries and paces the calls made through next. Each Transport
// paces on its own: make one per installation (GitHub) or token (GitLab).
func Transport(next http.RoundTripper, o Options) http.RoundTripper {
	o = o.withDefaults()
	c := retryablehttp.NewClient()
	c.HTTPClient = &http.Client{Transport: Pace(next, o.Writes), Timeout: o.AttemptTimeout}
	c.Logger = nil
	c.RetryMax = o.Retries
	// Each retry is logged with what the host answered, so a slow command
	// says why in the log: the policy notes the cause, the next attempt
	// logs it.
	c.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		retry, cerr := CheckRetry(ctx, resp, err)
		if last, ok := ctx.Value(causeKey{}).(*string); ok && retry {
			*last = cause(resp, err)
		}
		return retry, cerr
	}
	c.RequestLogHook = func(_ retryablehttp.Logger, r *http.Request, attempt int) {
		if last, ok := r.Context().Value(causeKey{}).(*string); ok && attempt > 0 {
			o.Log.Info("retrying a call to the host", "method", r.Method, "path", r.URL.Path, "attempt", attempt, "cause", *last)
		}
	}
	c.Backoff = o.Backoff
	c.ErrorHandler = retryablehttp.PassthroughErrorHandler // the host's last answer, not "giving up after N attempts"
	return noteCause{&retryablehttp.RoundTripper{Client: c}}
}

type causeKey struct{}

// noteCause gives each call a place for the cause of its next retry.
type noteCause struct{ next http.RoundTripper }

func (n noteCause) RoundTrip(r *http.Request) (*http.Response, error) {
	return n.next.RoundTrip(r.WithContext(context.WithValue(r.Context(), causeKey{}, new(string))))
}

type onceKey struct{}

// Once marks the calls made with ctx as not to be repeated after a server
// error or a lost connection, where the host may have done the write (a
// comment would be posted twice): the caller checks and repeats itself.
// Rate limits, which the host refuses before doing anything, are still
// waited out and retried.
func Once(ctx context.Context) context.Context { return context.WithValue(ctx, onceKey{}, true) }

// Sleep waits before the caller's own retry number try (from 0) of a call
// made with Once: 250ms doubled each time, with jitter; false when ctx ends
// first.
func Sleep(ctx context.Context, try int) bool {
	wait := 250 * time.Millisecond << min(try, 10)
	wait += time.Duration(rand.Int64N(int64(wait)/4 + 1))
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// CheckRetry is the retry policy: server errors, 429s and rate-limited 403s
// are retried, unless the wait the host asks for outlasts the request's
// context.
func CheckRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if once, _ := ctx.Value(onceKey{}).(bool); once && (err != nil || resp.StatusCode >= 500) {
		return false, nil
	}
	// An installation token GitHub refused (401, 404: the App or its
	// installation is gone) comes back as an error, not an answer: it is
	// retried only if GitHub's answer to the token call is retryable.
	var token *ghinstallation.HTTPError
	if errors.As(err, &token) && token.Response != nil {
		resp, err = token.Response, nil
	}
	if err != nil {
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err) // connection errors, not TLS or redirect loops
	}
	if !Retryable(resp) {
		return false, nil
	}
	if asked, ok := askedWait(resp, time.Now()); ok {
		if deadline, has := ctx.Deadline(); has && time.Now().Add(asked).After(deadline) {
			return false, nil
		}
	}
	return true, nil
}

// cause is what a retry is for, for the log: the host's status, or the
// transport's error ("connection refused").
func cause(resp *http.Response, err error) string {
	var token *ghinstallation.HTTPError
	if errors.As(err, &token) && token.Response != nil {
		return fmt.Sprintf("installation token: %d %s", token.Response.StatusCode, http.StatusText(token.Response.StatusCode))
	}
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
}

// Retryable: a server error, a 429, or a 403 that is a rate limit.
func Retryable(resp *http.Response) bool {
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return true
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		return true
	case resp.StatusCode == http.StatusForbidden:
		return rateLimited(resp)
	}
	return false
}

// rateLimited tells a rate-limit 403 from a permission one: by its headers,
// or by GitHub's message ("You have exceeded a secondary rate limit").
func rateLimited(resp *http.Response) bool {
	if resp.Header.Get("Retry-After") != "" || resp.Header.Get("X-Ratelimit-Remaining") == "0" {
		return true
	}
	if resp.Body == nil {
		return false
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	return strings.Contains(strings.ToLower(string(head)), "rate limit")
}

// askedWait is the wait the host names: Retry-After, or the reset of an
// exhausted limit.
func askedWait(resp *http.Response, now time.Time) (time.Duration, bool) {
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n >= 0 {
			return time.Duration(n) * time.Second, true
		}
		if t, err := http.ParseTime(s); err == nil {
			return max(t.Sub(now), 0), true
		}
	}
	if resp.Header.Get("X-Ratelimit-Remaining") == "0" {
		if n, err := strconv.ParseInt(resp.Header.Get("X-Ratelimit-Reset"), 10, 64); err == nil {
			return max(time.Unix(n, 0).Sub(now)+time.Second, 0), true
		}
	}
	return 0, false
}

// Backoff is the wait before retry attempt (counted from 0).
func (o Options) Backoff(_, _ time.Duration, attempt int, resp *http.Response) time.Duration {
	o = o.withDefaults()
	if resp != nil {
		if asked, ok := askedWait(resp, time.Now()); ok {
			return asked
		}
	}
	first := o.ErrorWait
	if resp != nil && (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests) {
		first = o.SecondaryWait
	}
	wait := first << min(attempt, 20)
	wait = min(wait, o.MaxWait)
	// Jitter of up to a quarter, so that commands that failed together do
	// not come back together.
	return wait + time.Duration(rand.Int64N(int64(wait)/4+1))
}

// Pace delays content-creating requests so that no window of the limits
// holds more than its N; reads pass at once. The windows slide (the last N
// writes are remembered): a token bucket (x/time/rate) would have to give
// up most of a window's capacity to never exceed it.
func Pace(next http.RoundTripper, limits []Limit) http.RoundTripper {
	p := &pacer{next: next}
	for _, l := range limits {
		p.windows = append(p.windows, &window{Limit: l, sent: make([]time.Time, 0, l.N)})
	}
	return p
}

type pacer struct {
	next    http.RoundTripper
	mu      sync.Mutex
	windows []*window
}

// window remembers the times of the last N writes it let through.
type window struct {
	Limit
	sent []time.Time // a ring once full; oldest at next
	next int
}

// earliest is when one more write keeps this window within N.
func (w *window) earliest() time.Time {
	if len(w.sent) < w.N {
		return time.Time{}
	}
	return w.sent[w.next].Add(w.Per)
}

// record books t and returns its place in the ring.
func (w *window) record(t time.Time) int {
	if len(w.sent) < w.N {
		w.sent = append(w.sent, t)
		return len(w.sent) - 1
	}
	i := w.next
	w.sent[i] = t
	w.next = (w.next + 1) % w.N
	return i
}

// reserve books the next slot every window allows, and returns it with
// the places booked.
func (p *pacer) reserve(now time.Time) (time.Time, []int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	at := now
	for _, w := range p.windows {
		if e := w.earliest(); e.After(at) {
			at = e
		}
	}
	places := make([]int, len(p.windows))
	for i, w := range p.windows {
		places[i] = w.record(at)
	}
	return at, places
}

// sentAt corrects a booking to when the write really left (a timer wakes
// late): the host counts arrivals, not plans.
func (p *pacer) sentAt(places []int, at, t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, w := range p.windows {
		if w.sent[places[i]].Equal(at) {
			w.sent[places[i]] = t
		}
	}
}

func (p *pacer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead && len(p.windows) > 0 {
		at, places := p.reserve(time.Now())
		if wait := time.Until(at); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return nil, fmt.Errorf("waiting %s for the host's write limit: %w", wait.Round(time.Second), r.Context().Err())
			}
		}
		p.sentAt(places, at, time.Now())
	}
	return p.next.RoundTrip(r)
}
