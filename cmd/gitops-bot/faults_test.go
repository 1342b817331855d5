package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/forge/github/githubtest"
)

// A host that fails a fifth of its API calls the ways GitHub does (500,
// 502, 429 and secondary-limit 403s with Retry-After): every /deploy still
// opens its pull request and gets its reply, once, and no branch is left
// without a pull request.
func TestDeploysThroughAFailingHost(t *testing.T) {
	gh := githubtest.New(t, "Codertocat", "Hello-World", map[string]string{"README.md": "fleet\n", "clusters/staging/.keep": ""})
	gh.AddBranch("master", "main")
	gh.SetPermission("Codertocat", "write")
	_, srv := serveGitHub(t, gh, nil, func(c *serverConfig) {
		c.HostCalls.SecondaryWait, c.HostCalls.ErrorWait = 50*time.Millisecond, 20*time.Millisecond
		c.HostCalls.WritesPerMinute, c.HostCalls.WritesPerHour = 1e6, 1e6 // pacing has its own test
	})
	gh.Faults.FailFraction(0.2, 1, forgetest.ServerError, forgetest.BadGateway, forgetest.TooManyRequest, forgetest.SecondaryLimit)

	raw, err := os.ReadFile("../../forge/github/testdata/issue_comment/created.json")
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	json.Unmarshal(raw, &p) //nolint:errcheck // a file of the repository
	const commands = 50
	for i := range commands {
		webhook(t, srv.URL, "issue_comment", "issue_comment/created.json", map[string]any{
			"repository":   p["repository"],
			"comment.id":   1000 + i,
			"comment.body": fmt.Sprintf("/deploy web-%d --image ghcr.io/acme/web:1.4.%d --port 8080 --env staging", i, i),
		})
	}
	deadline := time.Now().Add(3 * time.Minute)
	replies := func() []githubtest.Comment {
		var out []githubtest.Comment
		for _, c := range gh.Comments(1) {
			if c.User != "Codertocat" {
				out = append(out, c)
			}
		}
		return out
	}
	for len(replies()) < commands && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // anything more that would come
	heads := map[string]int{}
	for _, pr := range gh.Pulls() {
		heads[pr.Head]++
	}
	if len(gh.Pulls()) != commands || len(heads) != commands {
		t.Errorf("%d pull requests on %d branches, want %d", len(gh.Pulls()), len(heads), commands)
	}
	if r := replies(); len(r) != commands {
		t.Errorf("%d replies, want %d", len(r), commands)
	}
	for _, c := range replies() {
		if !strings.Contains(c.Body, "Opened") && !strings.Contains(c.Body, "pull/") {
			t.Errorf("a reply that does not name its pull request:\n%s", c.Body)
		}
	}
	for branch := range gh.Git().Branches() {
		if strings.HasPrefix(branch, "gitops-bot/") && heads[branch] == 0 {
			t.Errorf("branch %s has no pull request", branch)
		}
	}
	t.Logf("%d faults injected", gh.Faults.Injected())
	if gh.Faults.Injected() < commands {
		t.Errorf("only %d faults injected", gh.Faults.Injected())
	}
}
