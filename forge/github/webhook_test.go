package github_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gitops-bot/gitops-bot/forge/hook"
	"github.com/gitops-bot/gitops-bot/forge/inbox"

	"github.com/palantir/go-githubapp/githubapp"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/github"
	"github.com/gitops-bot/gitops-bot/forge/github/githubtest"
)

const secret = "s3cret"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// recorder is a CommentHandler that hands each event to a channel, and can
// be made to block to fill the queue.
type recorder struct {
	events chan forge.CommentEvent
	merges chan forge.MergeEvent
	pulls  chan forge.PullEvent
	block  chan struct{}
}

func newRecorder() *recorder {
	return &recorder{events: make(chan forge.CommentEvent, 100), merges: make(chan forge.MergeEvent, 100), pulls: make(chan forge.PullEvent, 100)}
}

func (r *recorder) HandlePull(ctx context.Context, f forge.PullForge, ev forge.PullEvent) error {
	r.pulls <- ev
	return nil
}

func (r *recorder) HandleMerge(ctx context.Context, f forge.MergeForge, ev forge.MergeEvent) error {
	r.merges <- ev
	return nil
}

func (r *recorder) HandleComment(ctx context.Context, f forge.Forge, ev forge.CommentEvent) error {
	r.events <- ev
	if r.block != nil {
		<-r.block
	}
	return nil
}

func (r *recorder) next(t *testing.T) forge.CommentEvent {
	t.Helper()
	select {
	case ev := <-r.events:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event handled")
		return forge.CommentEvent{}
	}
}

func (r *recorder) none(t *testing.T) {
	t.Helper()
	select {
	case ev := <-r.events:
		t.Fatalf("unexpected event handled: %+v", ev)
	case <-time.After(100 * time.Millisecond):
	}
}

func clientCreator(t testing.TB, apiURL string) githubapp.ClientCreator {
	t.Helper()
	var cfg githubapp.Config
	cfg.V3APIURL = apiURL
	cfg.App.IntegrationID = 1
	cfg.App.PrivateKey = githubtest.PrivateKey(t)
	cc, err := githubapp.NewDefaultCachingClientCreator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

func newHook(t testing.TB, h github.Handler, o github.Options) http.Handler {
	t.Helper()
	o.Secret, o.Log = secret, quiet
	wh, err := github.NewWebhook(clientCreator(t, "http://127.0.0.1:1/api/v3/"), h, o)
	if err != nil {
		t.Fatal(err)
	}
	return wh
}

func payload(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edit changes fields of a real payload: path "comment.body" = value.
func edit(t testing.TB, body []byte, changes map[string]any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	for path, v := range changes {
		parts := strings.Split(path, ".")
		cur := m
		for _, p := range parts[:len(parts)-1] {
			cur = cur[p].(map[string]any)
		}
		cur[parts[len(parts)-1]] = v
	}
	out, _ := json.Marshal(m)
	return out
}

func deliver(h http.Handler, event, id string, body []byte, sign bool) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/api/github/hook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", id)
	if sign {
		req.Header.Set("X-Hub-Signature-256", githubtest.Sign(secret, body))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestWebhookDecodesIssueComment(t *testing.T) {
	r := newRecorder()
	wh := newHook(t, r, github.Options{})
	// The captured comment holds no command: acknowledged, not handled.
	if rec := deliver(wh, "issue_comment", "d0", payload(t, "issue_comment/created.json"), true); rec.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	r.none(t)
	rec := deliver(wh, "issue_comment", "d1", withCommand(t), true)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	ev := r.next(t)
	want := forge.CommentEvent{
		Repo:       forge.Repo{Host: "github", Owner: "Codertocat", Name: "Hello-World", DefaultBranch: "master", CloneURL: "https://github.com/Codertocat/Hello-World.git", Installation: 1},
		Thread:     1,
		CommentID:  492700400,
		Body:       "/status podinfo",
		Author:     "Codertocat",
		DeliveryID: "d1",
	}
	if ev != want {
		t.Errorf("event\n got %+v\nwant %+v", ev, want)
	}
}

func TestWebhookPullRequestCommentAndBots(t *testing.T) {
	r := newRecorder()
	wh := newHook(t, r, github.Options{})
	// The captured PR comment came from a repository webhook; as an App delivery it carries an installation.
	body := edit(t, payload(t, "issue_comment/created.on-pull-request.json"), map[string]any{"installation": map[string]any{"id": 1}})
	if rec := deliver(wh, "issue_comment", "d1", body, true); rec.Code != http.StatusAccepted {
		t.Fatalf("status %d", rec.Code)
	}
	ev := r.next(t)
	if !ev.IsPR || ev.Thread != 947 || ev.Body != "/lgtm" || ev.Author != "spxtr" || ev.AuthorIsBot {
		t.Errorf("event %+v", ev)
	}
	body = edit(t, payload(t, "issue_comment/created.json"), map[string]any{"comment.user.login": "renovate[bot]", "comment.body": "/help"})
	deliver(wh, "issue_comment", "d2", body, true)
	if ev := r.next(t); !ev.AuthorIsBot {
		t.Errorf("a [bot] author was not marked: %+v", ev)
	}
	body = edit(t, payload(t, "issue_comment/created.json"), map[string]any{"comment.user.type": "Bot", "comment.body": "/help"})
	deliver(wh, "issue_comment", "d3", body, true)
	if ev := r.next(t); !ev.AuthorIsBot {
		t.Errorf("a Bot-typed author was not marked: %+v", ev)
	}
}

func TestWebhookRefusesAndIgnores(t *testing.T) {
	r := newRecorder()
	wh := newHook(t, r, github.Options{Options: hook.Options{MaxBodyBytes: 64 << 10}})
	good := payload(t, "issue_comment/created.json")
	cases := []struct {
		name   string
		event  string
		body   []byte
		sign   bool
		status int
	}{
		{"unsigned", "issue_comment", good, false, http.StatusBadRequest},
		{"wrong signature", "issue_comment", append([]byte(" "), good...), false, http.StatusBadRequest},
		{"edited comment", "issue_comment", payload(t, "issue_comment/edited.json"), true, http.StatusAccepted},
		{"event without handler", "push", payload(t, "push/new-branch.json"), true, http.StatusAccepted},
		{"ping", "ping", payload(t, "ping/with-app_id.json"), true, http.StatusOK},
		{"invalid JSON", "issue_comment", []byte(`{"action": "created", `), true, http.StatusBadRequest},
		{"oversized", "issue_comment", bytes.Repeat([]byte("x"), 65<<10), true, http.StatusRequestEntityTooLarge},
		{"missing event", "", good, true, http.StatusBadRequest},
		{"SHA-1 signature only", "issue_comment", good, false, http.StatusBadRequest},
		{"missing delivery ID", "issue_comment", good, true, http.StatusBadRequest},
		{"payload without repository", "issue_comment", withoutRepository(t, good), true, http.StatusBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/api/github/hook", bytes.NewReader(c.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-GitHub-Event", c.event)
			if c.name != "missing delivery ID" {
				req.Header.Set("X-GitHub-Delivery", c.name)
			}
			switch {
			case c.name == "SHA-1 signature only":
				mac := hmac.New(sha1.New, []byte(secret))
				mac.Write(c.body)
				req.Header.Set("X-Hub-Signature", "sha1="+hex.EncodeToString(mac.Sum(nil)))
			case c.sign:
				req.Header.Set("X-Hub-Signature-256", githubtest.Sign(secret, c.body))
			case c.name == "wrong signature":
				req.Header.Set("X-Hub-Signature-256", githubtest.Sign("other", c.body))
			}
			rec := httptest.NewRecorder()
			wh.ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Errorf("status %d, want %d (%s)", rec.Code, c.status, rec.Body)
			}
		})
	}
	r.none(t)

	// Oversized without a Content-Length (chunked) is caught while reading.
	req := httptest.NewRequest(http.MethodPost, "/api/github/hook", io.MultiReader(bytes.NewReader(bytes.Repeat([]byte("x"), 65<<10))))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "issue_comment")
	req.Header.Set("X-Hub-Signature-256", "sha256=00")
	rec := httptest.NewRecorder()
	wh.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked oversized: status %d", rec.Code)
	}
	if rec := httptest.NewRecorder(); true {
		wh.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/github/hook", nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("GET: status %d", rec.Code)
		}
	}
}

func TestWebhookRedeliveryIsHandledOnce(t *testing.T) {
	r := newRecorder()
	wh := newHook(t, r, github.Options{})
	body := withCommand(t)
	for i := 0; i < 3; i++ {
		if rec := deliver(wh, "issue_comment", "same-id", body, true); rec.Code != http.StatusAccepted {
			t.Fatalf("delivery %d: status %d", i, rec.Code)
		}
	}
	r.next(t)
	r.none(t)
	deliver(wh, "issue_comment", "other-id", body, true)
	r.next(t)
}

func TestWebhookFullQueueAnswers503(t *testing.T) {
	r := newRecorder()
	r.block = make(chan struct{})
	wh := newHook(t, r, github.Options{Options: hook.Options{Workers: 1, QueueSize: 1}})
	body := withCommand(t)
	deliver(wh, "issue_comment", "a", body, true)
	r.next(t) // the worker is now busy
	if rec := deliver(wh, "issue_comment", "b", body, true); rec.Code != http.StatusAccepted {
		t.Fatalf("queued delivery: %d", rec.Code)
	}
	if rec := deliver(wh, "issue_comment", "c", body, true); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("over capacity: %d, want 503", rec.Code)
	}
	close(r.block)
	r.next(t) // b
	// c was refused, so its redelivery is accepted and handled.
	if rec := deliver(wh, "issue_comment", "c", body, true); rec.Code != http.StatusAccepted {
		t.Fatalf("redelivery after 503: %d", rec.Code)
	}
	r.next(t)
}

func TestNewWebhookNeedsSecret(t *testing.T) {
	if _, err := github.NewWebhook(nil, newRecorder(), github.Options{}); err == nil {
		t.Error("a webhook without a secret was created")
	}
}

type discard struct{}

func (discard) HandleComment(context.Context, forge.Forge, forge.CommentEvent) error { return nil }

func (discard) HandleMerge(context.Context, forge.MergeForge, forge.MergeEvent) error { return nil }

func (discard) HandlePull(context.Context, forge.PullForge, forge.PullEvent) error { return nil }

// BenchmarkWebhookAck measures a signed delivery over loopback HTTP, from
// the request to the 202, and reports the 99th percentile.
func BenchmarkWebhookAck(b *testing.B) {
	wh := newHook(b, discard{}, github.Options{Options: hook.Options{QueueSize: 10000, Workers: 2}})
	srv := httptest.NewServer(wh)
	defer srv.Close()
	body := payload(b, "issue_comment/created.json")
	sig := githubtest.Sign(secret, body)
	client := srv.Client()
	var lat []time.Duration
	i := 0
	for b.Loop() {
		i++
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "issue_comment")
		req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("bench-%d", i))
		req.Header.Set("X-Hub-Signature-256", sig)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(start))
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
}

func timeout() <-chan time.Time   { return time.After(5 * time.Second) }
func shortWait() <-chan time.Time { return time.After(200 * time.Millisecond) }

func withoutRepository(t *testing.T, body []byte) []byte {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	delete(p, "repository")
	out, _ := json.Marshal(p)
	return out
}

// withCommand is the captured comment delivery, its body a command.
func withCommand(t *testing.T) []byte {
	t.Helper()
	return edit(t, payload(t, "issue_comment/created.json"), map[string]any{"comment.body": "/status podinfo"})
}

// tooLarge is an inbox that cannot keep any delivery (as the Kubernetes
// store with one over the size of an object).
type tooLarge struct{ inbox.Inbox }

func (tooLarge) Accept(context.Context, inbox.Delivery) (bool, error) {
	return false, fmt.Errorf("keeping delivery: %w", inbox.ErrTooLarge)
}

// A delivery too large for the store is handled all the same, in memory,
// not refused: a 500 would only bring it back, as large, again.
func TestDeliveryTooLargeForTheStoreIsHandled(t *testing.T) {
	r := newRecorder()
	store, err := inbox.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	wh := newHook(t, r, github.Options{Options: hook.Options{Context: t.Context(), Inbox: tooLarge{store}}})
	rec := deliver(wh, "issue_comment", "huge-1", withCommand(t), true)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if ev := r.next(t); ev.DeliveryID != "huge-1" {
		t.Errorf("handled %+v", ev)
	}
}
