package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gitops-bot/gitops-bot/forge/github/githubtest"
)

// With no host configured serve runs the setup page instead of refusing:
// it is never ready, / leads to /setup, and the App it creates through
// GitHub's manifest flow is saved as a configuration that serve then
// starts with, ready.
func TestServeWithoutAHostSetsUpTheGitHubApp(t *testing.T) {
	gh := githubtest.New(t, "acme", "fleet", nil)
	cfg := &serverConfig{DataDir: t.TempDir()}
	cfg.GitHub.WebURL, cfg.GitHub.V3APIURL = gh.WebURL(), gh.APIURL()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := newServer(ctx, ctx, cfg, nil, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); s.close() }()
	if !s.setup {
		t.Fatal("no host configured, yet not in setup mode")
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	go s.readiness.run(ctx, s.checks, quiet, time.Hour) // fails until ctx ends
	eventually(t, "readyz to say why", func() bool {
		code, body := httpGet(t, srv.URL+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "open /setup")
	})
	if code, _ := httpGet(t, srv.URL+"/healthz"); code != http.StatusOK {
		t.Errorf("healthz %d", code)
	}
	code, page := httpGet(t, srv.URL+"/") // followed to /setup
	if code != http.StatusOK || !strings.Contains(page, "Create the gitops-bot GitHub App") {
		t.Fatalf("/ %d %s", code, page)
	}

	// The operator's browser: the start form, then the form to GitHub,
	// which comes back to the callback.
	resp, err := http.PostForm(srv.URL+"/setup/manifest", url.Values{"url": {"https://gitops-bot.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`<form method="post" action="([^"]+)">\s*<input type="hidden" name="manifest" value="([^"]+)">`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no form to GitHub:\n%s", b)
	}
	action, manifest := unescape(string(m[1])), unescape(string(m[2]))
	resp, err = http.PostForm(action, url.Values{"manifest": {manifest}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	saved := filepath.Join(cfg.DataDir, "github-app.yaml")
	if resp.StatusCode != 200 || !strings.Contains(string(b), "App ID <b>4200</b>") || !strings.Contains(string(b), saved) {
		t.Fatalf("callback %d:\n%s", resp.StatusCode, b)
	}

	// Started with the saved file, the bot is the App, and ready.
	next, notes, err := loadServerConfig(saved, func(string) (string, bool) { return "", false })
	if err != nil || len(notes) > 0 {
		t.Fatalf("the saved configuration: %v %v", err, notes)
	}
	next.DataDir = t.TempDir()
	s2, err := newServer(ctx, ctx, next, nil, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); s2.close() }()
	var logs syncBuffer
	s2.readiness.run(ctx, s2.checks, slog.New(slog.NewTextHandler(&logs, nil)), time.Hour)
	if ready, why := s2.readiness.state(); !ready || !strings.Contains(logs.String(), "authenticated as the GitHub App") {
		t.Errorf("started with the saved App: %s\n%s", why, logs.String())
	}
	srv2 := httptest.NewServer(s2)
	defer srv2.Close()
	if code, _ := httpGet(t, srv2.URL+"/setup"); code != http.StatusNotFound {
		t.Errorf("with an App configured /setup answers %d", code)
	}
}

// unescape undoes html/template's escaping of an attribute value.
func unescape(s string) string {
	return strings.NewReplacer("&#34;", `"`, "&quot;", `"`, "&amp;", "&", "&#43;", "+", "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(s)
}
