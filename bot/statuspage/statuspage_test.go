package statuspage

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gitops-bot/gitops-bot/bot/activity"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/sync/verify"
)

var now = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)

// example is a page with something in every section.
func example() *Page {
	repo := forge.Repo{Host: "github", Owner: "acme", Name: "fleet", CloneURL: "https://github.com/acme/fleet.git"}
	recent := activity.New(10)
	recent.Add(activity.Entry{Time: now.Add(-time.Minute), Source: "command", Repo: "acme/fleet", What: "/deploy frontend --version 1.4.3 --env staging",
		Where: "#12", WhereURL: "https://github.com/acme/fleet/issues/12", Outcome: "ok", Link: "https://github.com/acme/fleet/pull/13", LinkText: "#13"})
	recent.Add(activity.Entry{Time: now.Add(-30 * time.Second), Source: "command", Repo: "acme/fleet", What: "/scale frontend <script>alert(1)</script>",
		Where: "#12", WhereURL: "https://github.com/acme/fleet/issues/12", Outcome: "usage", Detail: "replicas: want a whole number"})
	recent.Add(activity.Entry{Time: now.Add(-10 * time.Second), Source: "alert", Repo: "acme/fleet", What: "HighMemory (rule memory-up)",
		Outcome: "suppressed", Detail: "cooldown"})
	return &Page{
		Version: "v1.2.3",
		Now:     func() time.Time { return now },
		Ready:   func() (bool, string) { return false, "start-up checks failed:\ncluster prod: connection refused" },
		Checks: func() []Check {
			return []Check{
				{Name: "github", OK: true, Notes: []string{"authenticated as the GitHub App gitops-bot (ID 42)"}, At: now.Add(-5 * time.Second)},
				{Name: "cluster prod", Error: "connection refused", At: now.Add(-5 * time.Second)},
			}
		},
		Pending: func() []verify.State {
			ks := providers.Ref{APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization", Namespace: "flux-system", Name: "apps"}
			return []verify.State{{
				Request: verify.Request{Repo: repo, SHA: "0123456789abcdef0123", PR: 13, Env: "staging", Timeout: 10 * time.Minute},
				Started: now.Add(-2 * time.Minute), Discovered: true, Reported: verify.PickedUp,
				Targets: []verify.Target{{Ref: ks, Role: "applier"}},
				Results: []verify.Result{{Ref: ks, Verdict: verify.PickedUp, Sync: "Progressing", Message: "Reconciliation in progress"}},
			}}
		},
		Activity: recent,
	}
}

func get(t *testing.T, h http.Handler, path string, set func(*http.Request)) (int, string) {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	if set != nil {
		set(r)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(b)
}

func TestPageShowsEverySection(t *testing.T) {
	code, body := get(t, example(), "/", nil)
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	for _, want := range []string{
		"v1.2.3", "not ready", "cluster prod: connection refused",
		"authenticated as the GitHub App gitops-bot (ID 42)", // a check's note
		`<a href="https://github.com/acme/fleet/pull/13">#13</a>`, "<code>01234567</code>", "staging", "2m0s ago", "in 8m0s",
		"Kustomization flux-system/apps: in_progress · Progressing", "Reconciliation in progress",
		"/deploy frontend --version 1.4.3 --env staging", `<a href="https://github.com/acme/fleet/issues/12">#12</a>`,
		"replicas: want a whole number", "HighMemory (rule memory-up)", "cooldown",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;") {
		t.Error("a command's text must be escaped")
	}
	// Newest first.
	if strings.Index(body, "HighMemory") > strings.Index(body, "/deploy frontend") {
		t.Error("recent activity is not newest first")
	}
}

func TestEmptyPageSaysSoWithoutEmptyTables(t *testing.T) {
	code, body := get(t, &Page{}, "/", nil)
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	for _, want := range []string{"The start-up checks have not run yet.", "No verification is pending.", "No command or alert since this replica started."} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "<table") {
		t.Error("an empty section shows a table")
	}
}

func TestTokenIsAskedFor(t *testing.T) {
	p := example()
	p.Token = "s3cret"
	code, body := get(t, p, "/", nil)
	if code != http.StatusUnauthorized || strings.Contains(body, "acme/fleet") {
		t.Fatalf("no token: %d %q", code, body)
	}
	if code, _ := get(t, p, "/", func(r *http.Request) { r.Header.Set("Authorization", "Bearer wrong") }); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", code)
	}
	if code, _ := get(t, p, "/", func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret") }); code != 200 {
		t.Errorf("bearer token: %d", code)
	}
	code, body = get(t, p, "/", func(r *http.Request) { r.SetBasicAuth("anyone", "s3cret") })
	if code != 200 || strings.Contains(body, "s3cret") {
		t.Errorf("basic auth: %d, or the page shows the token", code)
	}
}

func TestOnlyTheRootIsServed(t *testing.T) {
	if code, _ := get(t, example(), "/other", nil); code != http.StatusNotFound {
		t.Errorf("/other: %d", code)
	}
}
