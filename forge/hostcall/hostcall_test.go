package hostcall

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
)

// host answers each call with the next of its scripted answers (then 200),
// recording what it received.
type host struct {
	mu      sync.Mutex
	answers []func(w http.ResponseWriter)
	bodies  []string
	at      []time.Time
}

func (h *host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.bodies = append(h.bodies, string(body))
	h.at = append(h.at, time.Now())
	var answer func(http.ResponseWriter)
	if len(h.answers) > 0 {
		answer, h.answers = h.answers[0], h.answers[1:]
	}
	h.mu.Unlock()
	if answer == nil {
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"number": 12}`)
		return
	}
	answer(w)
}

func status(code int, headers map[string]string, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

var fast = Options{SecondaryWait: 20 * time.Millisecond, ErrorWait: 10 * time.Millisecond, Writes: []Limit{{N: 1000, Per: time.Second}}}

func call(t *testing.T, rt http.RoundTripper, ctx context.Context, url string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(`{"title": "Deploy podinfo"}`))
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// Each kind of failure GitHub documents is retried with the whole body
// again, and the caller sees the success.
func TestRetriesWhatHostsAskToRetry(t *testing.T) {
	for name, answer := range map[string]func(http.ResponseWriter){
		"500":                         status(500, nil, `{"message": "Server Error"}`),
		"502":                         status(502, nil, `<html>Bad Gateway</html>`),
		"503 with Retry-After":        status(503, map[string]string{"Retry-After": "0"}, ""),
		"429":                         status(429, nil, `{"message": "Too Many Requests"}`),
		"secondary limit, no headers": status(403, nil, `{"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}`),
		"secondary limit with Retry-After": status(403, map[string]string{"Retry-After": "0"},
			`{"message": "You have exceeded a secondary rate limit"}`),
		"primary limit exhausted": status(403, map[string]string{"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": strconv.FormatInt(time.Now().Unix(), 10)},
			`{"message": "API rate limit exceeded"}`),
	} {
		t.Run(name, func(t *testing.T) {
			h := &host{answers: []func(http.ResponseWriter){answer, answer}}
			srv := httptest.NewServer(h)
			defer srv.Close()
			resp, body := call(t, Transport(http.DefaultTransport, fast), context.Background(), srv.URL)
			if resp.StatusCode != http.StatusCreated || body != `{"number": 12}` {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			if len(h.bodies) != 3 {
				t.Fatalf("%d calls, want 3", len(h.bodies))
			}
			for _, b := range h.bodies {
				if b != `{"title": "Deploy podinfo"}` {
					t.Errorf("a retry sent %q", b)
				}
			}
		})
	}
}

// A permission 403, a 404 or a 422 is an answer, not a failure to retry.
func TestDoesNotRetryAnswers(t *testing.T) {
	for _, code := range []int{403, 404, 422, 501} {
		h := &host{answers: []func(http.ResponseWriter){status(code, nil, `{"message": "Resource not accessible by integration"}`)}}
		srv := httptest.NewServer(h)
		resp, _ := call(t, Transport(http.DefaultTransport, fast), context.Background(), srv.URL)
		srv.Close()
		if resp.StatusCode != code || len(h.bodies) != 1 {
			t.Errorf("%d: answered %d after %d calls", code, resp.StatusCode, len(h.bodies))
		}
	}
}

// The wait is the one the host names, and a wait that would end after the
// command's deadline is not waited: the host's answer comes back at once.
func TestWaitsAsAsked(t *testing.T) {
	if got := fast.Backoff(0, 0, 0, &http.Response{StatusCode: 403, Header: http.Header{"Retry-After": {"7"}}}); got != 7*time.Second {
		t.Errorf("Retry-After 7: waits %s", got)
	}
	reset := time.Now().Add(90 * time.Second)
	got := fast.Backoff(0, 0, 0, &http.Response{StatusCode: 403, Header: http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {strconv.FormatInt(reset.Unix(), 10)}}})
	if got < 85*time.Second || got > 92*time.Second {
		t.Errorf("reset in 90s: waits %s", got)
	}
	def := Options{}
	if got := def.Backoff(0, 0, 0, &http.Response{StatusCode: 403}); got < time.Minute {
		t.Errorf("secondary limit without a time: waits %s, GitHub asks for at least a minute", got)
	}
	if a, b := def.Backoff(0, 0, 1, &http.Response{StatusCode: 502}), def.Backoff(0, 0, 3, &http.Response{StatusCode: 502}); a < 2*time.Second || b < 8*time.Second || b > def.withDefaults().MaxWait*5/4 {
		t.Errorf("server errors back off exponentially: %s then %s", a, b)
	}

	h := &host{answers: []func(http.ResponseWriter){status(403, map[string]string{"Retry-After": "120"}, `{"message": "secondary rate limit"}`)}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, _ := call(t, Transport(http.DefaultTransport, fast), ctx, srv.URL)
	if resp.StatusCode != 403 || len(h.bodies) != 1 || ctx.Err() != nil {
		t.Errorf("a 2-minute wait within a 5s deadline: %d after %d calls", resp.StatusCode, len(h.bodies))
	}
}

// Writes are spread so that no window holds more than the limit; reads
// are not held back.
func TestPacesWrites(t *testing.T) {
	h := &host{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	const n, per = 4, 400 * time.Millisecond
	// The times the pacer lets writes go, taken under it.
	var mu sync.Mutex
	var sent []time.Time
	under := roundTripper(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		sent = append(sent, time.Now())
		mu.Unlock()
		return http.DefaultTransport.RoundTrip(r)
	})
	rt := Pace(under, []Limit{{N: n, Per: per}})
	start := time.Now()
	for range 3 * n {
		call(t, rt, context.Background(), srv.URL)
	}
	for i := range sent {
		in := 0
		for _, t2 := range sent[i:] {
			if t2.Sub(sent[i]) < per {
				in++
			}
		}
		if in > n {
			t.Fatalf("%d writes within %s from write %d, limit %d", in, per, i, n)
		}
	}
	// The window is used whole: 3n writes go in about two windows, not
	// the four a token bucket of the same guarantee would take.
	if took := time.Since(start); took > 3*per {
		t.Errorf("%d writes took %s", 3*n, took)
	}
	get, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	first := len(h.at)
	for range 3 * n {
		resp, err := (&http.Client{Transport: rt}).Do(get)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if reads := h.at[first:]; reads[len(reads)-1].Sub(reads[0]) > per {
		t.Errorf("reads were paced: %s for %d", reads[len(reads)-1].Sub(reads[0]), len(reads))
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// An installation token GitHub refuses comes back from ghinstallation as an
// error: a 401 or 404 is asked once, a 502 again; each retry is logged
// with the status.
func TestInstallationTokenRetriedOnlyWhenRetryable(t *testing.T) {
	for code, want := range map[int]int{401: 1, 404: 1, 502: 3} {
		calls := 0
		next := roundTripper(func(r *http.Request) (*http.Response, error) {
			calls++
			token := &http.Response{StatusCode: code, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{"message": "Not Found"}`)), Request: r}
			return nil, &ghinstallation.HTTPError{Message: "could not refresh installation id 1's token", Response: token, InstallationID: 1}
		})
		var logs strings.Builder
		o := fast
		o.Retries = 2
		o.Log = slog.New(slog.NewTextHandler(&logs, nil))
		req, _ := http.NewRequest(http.MethodGet, "https://api.github.com/repos/a/b", nil)
		_, err := (&http.Client{Transport: Transport(next, o)}).Do(req)
		if err == nil {
			t.Fatalf("%d: no error", code)
		}
		if calls != want {
			t.Errorf("%d: %d calls, want %d", code, calls, want)
		}
		if n := strings.Count(logs.String(), "retrying a call to the host"); n != want-1 || want > 1 && !strings.Contains(logs.String(), `cause="installation token: 502 Bad Gateway"`) {
			t.Errorf("%d: %d retries logged, want %d with the status:\n%s", code, n, want-1, logs.String())
		}
	}
}

// A connection refused is retried, and the log says so.
func TestConnectionRefusedRetriedWithItsCause(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	var logs strings.Builder
	o := fast
	o.Retries = 1
	o.Log = slog.New(slog.NewTextHandler(&logs, nil))
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	if _, err := (&http.Client{Transport: Transport(http.DefaultTransport, o)}).Do(req); err == nil {
		t.Fatal("no error")
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("the retry does not name the cause:\n%s", logs.String())
	}
}
