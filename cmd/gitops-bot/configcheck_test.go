package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot"
	"github.com/gitops-bot/gitops-bot/forge/github/githubtest"
)

// A pull request that changes .gitops-bot.yaml gets a check on its head:
// a failure that names the line and the key while the file is wrong, a
// success once a push fixes it. One that leaves the file alone gets none.
func TestConfigCheckOnPullRequests(t *testing.T) {
	gh := githubtest.New(t, "acme", "fleet", map[string]string{".gitops-bot.yaml": "provider: flux\n", "clusters/staging/.keep": ""})
	cfg := &serverConfig{DataDir: t.TempDir()}
	cfg.GitHub.WebURL, cfg.GitHub.V3APIURL = gh.WebURL(), gh.APIURL()
	cfg.GitHub.App.IntegrationID, cfg.GitHub.App.WebhookSecret, cfg.GitHub.App.PrivateKey = 1, "s3cret", githubtest.PrivateKey(t)
	cfg.CatchUp.Disabled = true
	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	s, err := newServer(ctx, ctx, cfg, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); s.close() }()
	srv := httptest.NewServer(s)
	defer srv.Close()

	raw, err := os.ReadFile("../../forge/github/testdata/pull_request/opened.json")
	if err != nil {
		t.Fatal(err)
	}
	deliver := func(id, action string, number int, head string) {
		t.Helper()
		var p map[string]any
		json.Unmarshal(raw, &p)
		p["action"] = action
		p["installation"] = map[string]any{"id": 1}
		repo := p["repository"].(map[string]any)
		repo["name"], repo["full_name"] = "fleet", "acme/fleet"
		repo["owner"].(map[string]any)["login"] = "acme"
		pr := p["pull_request"].(map[string]any)
		pr["number"] = number
		pr["head"].(map[string]any)["sha"] = head
		body, _ := json.Marshal(p)
		if code, err := deliverEvent(srv.URL, "pull_request", id, body); err != nil || code != http.StatusAccepted {
			t.Fatalf("hook answered %d, %v", code, err)
		}
	}
	checkOn := func(sha string) *githubtest.CheckRun {
		for _, c := range gh.CheckRuns() {
			if c.HeadSHA == sha && c.Name == bot.ConfigCheckName {
				return &c
			}
		}
		return nil
	}

	bad := "provider: flux\nenvironments:\n  - name: staging\n    dir: clusters/staging\n    clutser: prod\n"
	n := gh.OpenPull(t, "main", "config", "Configure staging", map[string]*string{".gitops-bot.yaml": &bad})
	head := gh.Head("config")
	deliver("p1", "opened", n, head)
	eventually(t, "the config check", func() bool { c := checkOn(head); return c != nil && c.Status == "completed" })
	c := checkOn(head)
	if c.Conclusion != "failure" || !strings.Contains(c.Title, "invalid") || !strings.Contains(c.Summary, "line 5: environments[0].clutser: unknown key. Did you mean environments[0].cluster?") ||
		strings.Contains(c.Summary, "struct") {
		t.Errorf("check on the bad config: %+v", c)
	}

	good := "provider: flux\nenvironments:\n  - name: staging\n    dir: clusters/staging\n"
	n2 := gh.OpenPull(t, "main", "config-fixed", "Configure staging, fixed", map[string]*string{".gitops-bot.yaml": &good})
	fixed := gh.Head("config-fixed")
	deliver("p2", "synchronize", n2, fixed)
	eventually(t, "the config check of the fix", func() bool { c := checkOn(fixed); return c != nil && c.Status == "completed" })
	if c := checkOn(fixed); c.Conclusion != "success" || !strings.Contains(c.Summary, "`staging`: `clusters/staging`") {
		t.Errorf("check on the fixed config: %+v", c)
	}
	// Delivered again: the same check, not a second one.
	deliver("p3", "synchronize", n2, fixed)
	other := "x\n"
	n3 := gh.OpenPull(t, "main", "other", "Something else", map[string]*string{"README.md": &other})
	deliver("p4", "opened", n3, gh.Head("other"))
	eventually(t, "the deliveries handled", func() bool { return s.pending() == 0 })
	count := 0
	for _, c := range gh.CheckRuns() {
		if c.Name == bot.ConfigCheckName {
			count++
		}
		if c.HeadSHA == gh.Head("other") {
			t.Errorf("a pull request that leaves the config alone got a check: %+v", c)
		}
	}
	if count != 2 {
		t.Errorf("%d config checks, want 2", count)
	}
	if !strings.Contains(logs.String(), `msg="config check" host=github repo=acme/fleet pull=1`) {
		t.Errorf("no log line of the check:\n%s", logs.String())
	}
}
