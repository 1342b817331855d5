package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gitops-bot/gitops-bot/forge/github/githubtest"
	"github.com/gitops-bot/gitops-bot/forge/gitlab/gitlabtest"
	"github.com/gitops-bot/gitops-bot/sync/cluster"
	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

// A GitHub nobody answers for, a GitLab token the host refuses and a
// cluster nobody answers for: /readyz says each real cause ("connection
// refused", not a timeout) and stays unready, /healthz stays live, and
// the log has a line per failure. (A private key that is not one is
// refused before: TestValidateListsWhatServeRefuses.)
func TestReadinessTellsTheRealCause(t *testing.T) {
	glab := gitlabtest.New(t, "acme/fleet", "glpat-right", nil)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // a port nobody listens on

	cfg := &serverConfig{DataDir: t.TempDir()}
	cfg.GitHub.V3APIURL = closed.URL + "/api/v3/"
	cfg.GitHub.App.IntegrationID = 1
	cfg.GitHub.App.WebhookSecret = "s3cret"
	cfg.GitHub.App.PrivateKey = githubtest.PrivateKey(t)
	cfg.HostCalls.ErrorWait = time.Millisecond // the retries of a refused connection, quickly
	cfg.GitLab.BaseURL = glab.URL + "/api/v4"
	cfg.GitLab.Token = "glpat-wrong"
	cfg.GitLab.WebhookSecret = "s3cret"
	c, err := cluster.New("prod-eu", &rest.Config{Host: closed.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	s, err := newServer(ctx, ctx, cfg, cluster.Set{"prod-eu": c}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); s.close() }() // the verifier stops with ctx
	srv := httptest.NewServer(s)
	defer srv.Close()

	code, body := httpGet(t, srv.URL+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "starting") {
		t.Errorf("before the checks: %d %s", code, body)
	}
	done := make(chan struct{})
	go func() { defer close(done); s.readiness.run(ctx, s.checks, log, time.Hour) }()
	eventually(t, "the checks to run", func() bool { code, body = httpGet(t, srv.URL+"/readyz"); return !strings.Contains(body, "starting") })
	for _, want := range []string{
		"github: cannot reach GitHub's API as the App",
		"connection refused",
		"gitlab: GitLab refused gitlab.token (401)",
		"cluster prod-eu: cluster prod-eu: cannot reach the API server",
	} {
		if code != http.StatusServiceUnavailable || !strings.Contains(body, want) {
			t.Errorf("/readyz = %d, lacks %q:\n%s", code, want, body)
		}
	}
	if code, _ := httpGet(t, srv.URL+"/healthz"); code != http.StatusOK {
		t.Errorf("healthz %d: liveness must not follow readiness", code)
	}
	if n := strings.Count(logs.String(), "start-up check failed; not ready"); n != 3 {
		t.Errorf("%d failure lines, want 3:\n%s", n, logs.String())
	}
	cancel()
	<-done
}

// With everything right the checks pass and say who the bot is.
func TestReadinessWhenAllIsWell(t *testing.T) {
	glab := gitlabtest.New(t, "acme/fleet", "glpat-right", nil)
	cfg := &serverConfig{DataDir: t.TempDir()}
	cfg.GitLab.BaseURL = glab.URL + "/api/v4"
	cfg.GitLab.Token = "glpat-right"
	cfg.GitLab.WebhookSecret = "s3cret"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	s, err := newServer(ctx, ctx, cfg, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); s.close() }()
	s.readiness.run(ctx, s.checks, slog.New(slog.NewTextHandler(&logs, nil)), time.Hour)
	if ready, why := s.readiness.state(); !ready || !strings.Contains(logs.String(), "authenticated to GitLab as gitops-bot") {
		t.Errorf("not ready: %s\n%s", why, logs.String())
	}
	s.readiness.stop()
	if ready, why := s.readiness.state(); ready || why != "stopping" {
		t.Errorf("while stopping: %v %s", ready, why)
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// On the real API server: a user the cluster knows but has not bound to
// the bot's ClusterRole is told so, kind by kind, and a user bound to it
// passes, with no note for the kinds the test cluster has.
func TestClusterCheckOnTheRealAPIServer(t *testing.T) {
	clustertest.Need(t, env)
	nobody, err := env.AddUser(envtest.User{Name: "not-the-bot"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cluster.New("prod-eu", nobody.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	_, err = clusterCheck(c).run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "cluster prod-eu: the bot may not list kustomizations.kustomize.toolkit.fluxcd.io in all namespaces (its ClusterRole needs get, list and watch on them)") {
		t.Errorf("forbidden user: %v", err)
	}

	bot, err := cluster.New("", clustertest.ReaderConfig(t, env))
	if err != nil {
		t.Fatal(err)
	}
	defer bot.Stop()
	notes, err := clusterCheck(bot).run(context.Background())
	if err != nil || len(notes) > 0 {
		t.Errorf("the bot's ClusterRole: %v, notes %v", err, notes)
	}
}

// A check that passes logs what it found at INFO; a check's note about
// something to mend is a warning.
func TestPassingCheckLogsAtInfo(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	checks := []startupCheck{
		{name: "github", run: func(context.Context) ([]string, error) {
			return []string{"authenticated as the GitHub App bot (ID 1)"}, nil
		}},
		{name: "cluster", warns: true, run: func(context.Context) ([]string, error) { return []string{"not installed, not watched: x"}, nil }},
	}
	(&readiness{}).run(t.Context(), checks, log, time.Hour)
	out := logs.String()
	for _, want := range []string{`level=INFO msg="start-up check: authenticated as the GitHub App bot (ID 1)"`, `level=WARN msg="start-up check: not installed, not watched: x"`, `level=INFO msg="start-up checks passed"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}
