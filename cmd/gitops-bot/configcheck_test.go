package main

import (
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
	s, srv, logs := serveGitHubLogs(t, gh, func(c *serverConfig) { c.GitHub.WebURL = gh.WebURL(); c.CatchUp.Disabled = true })

	deliver := func(action string, number int, head string) {
		t.Helper()
		webhook(t, srv.URL, "pull_request", "pull_request/opened.json", map[string]any{
			"action": action, "installation": map[string]any{"id": 1},
			"repository.name": "fleet", "repository.full_name": "acme/fleet", "repository.owner.login": "acme",
			"pull_request.number": number, "pull_request.head.sha": head,
		})
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
	deliver("opened", n, head)
	eventually(t, "the config check", func() bool { c := checkOn(head); return c != nil && c.Status == "completed" })
	c := checkOn(head)
	if c.Conclusion != "failure" || !strings.Contains(c.Title, "invalid") || !strings.Contains(c.Summary, "line 5: environments[0].clutser: unknown key. Did you mean environments[0].cluster?") ||
		strings.Contains(c.Summary, "struct") {
		t.Errorf("check on the bad config: %+v", c)
	}

	good := "provider: flux\nenvironments:\n  - name: staging\n    dir: clusters/staging\n"
	n2 := gh.OpenPull(t, "main", "config-fixed", "Configure staging, fixed", map[string]*string{".gitops-bot.yaml": &good})
	fixed := gh.Head("config-fixed")
	deliver("synchronize", n2, fixed)
	eventually(t, "the config check of the fix", func() bool { c := checkOn(fixed); return c != nil && c.Status == "completed" })
	if c := checkOn(fixed); c.Conclusion != "success" || !strings.Contains(c.Summary, "`staging`: `clusters/staging`") {
		t.Errorf("check on the fixed config: %+v", c)
	}
	// Delivered again: the same check, not a second one.
	deliver("synchronize", n2, fixed)
	other := "x\n"
	n3 := gh.OpenPull(t, "main", "other", "Something else", map[string]*string{"README.md": &other})
	deliver("opened", n3, gh.Head("other"))
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
