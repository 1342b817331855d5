package main

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/github/githubtest"
)

// fleetRun drives a fleet repository on the fake GitHub as people do in
// the tests against the real controllers: pull requests opened and merged,
// the merged events sent to serve, check runs read back.
type fleetRun struct {
	t          *testing.T
	gh         *githubtest.Server
	srv        *httptest.Server
	repository map[string]any // the repository of the webhook payloads
	branch     int
	// describe says what the controllers report, for a check that never ends.
	describe func() string
}

func newFleetRun(t *testing.T, gh *githubtest.Server, srv *httptest.Server, describe func() string) *fleetRun {
	t.Helper()
	raw, err := os.ReadFile("../../forge/github/testdata/pull_request/closed.merged.json")
	if err != nil {
		t.Fatal(err)
	}
	var payload map[string]any
	json.Unmarshal(raw, &payload) //nolint:errcheck // a file of the repository
	repository := payload["repository"].(map[string]any)
	repository["name"], repository["full_name"], repository["default_branch"] = gh.Repo, gh.Owner+"/"+gh.Repo, "main"
	repository["owner"].(map[string]any)["login"] = gh.Owner
	repository["clone_url"] = gh.WebURL() + "/" + gh.Owner + "/" + gh.Repo + ".git"
	return &fleetRun{t: t, gh: gh, srv: srv, repository: repository, describe: describe}
}

// open opens a person's pull request of changes and returns its number.
func (f *fleetRun) open(title string, changes map[string]*string) int {
	f.branch++
	return f.gh.OpenPull(f.t, "main", fmt.Sprintf("change-%d", f.branch), title, changes)
}

// merge merges a pull request, sends the merged event and returns the merge commit.
func (f *fleetRun) merge(number int) string {
	sha := f.gh.Merge(number)
	webhook(f.t, f.srv.URL, "pull_request", "pull_request/closed.merged.json", map[string]any{
		"repository":                    f.repository,
		"installation":                  map[string]any{"id": 1},
		"pull_request.number":           number,
		"pull_request.body":             "",
		"pull_request.merge_commit_sha": sha,
		"pull_request.base.ref":         "main",
	})
	return sha
}

// change opens and merges a pull request of changes, returning the merge commit.
func (f *fleetRun) change(title string, changes map[string]*string) string {
	return f.merge(f.open(title, changes))
}

// run is the verification's check run on a commit, if there is one yet.
func (f *fleetRun) run(sha string) (githubtest.CheckRun, bool) {
	for _, r := range f.gh.CheckRuns() {
		if r.HeadSHA == sha && strings.HasPrefix(r.Name, forge.SyncCheckPrefix) {
			return r, true
		}
	}
	return githubtest.CheckRun{}, false
}

// verdict waits for the check run of a merge commit to complete.
func (f *fleetRun) verdict(name, sha string) githubtest.CheckRun {
	f.t.Helper()
	start := time.Now()
	deadline := start.Add(4 * time.Minute)
	for {
		if r, ok := f.run(sha); ok && r.Status == "completed" {
			f.t.Logf("%s: %s after %s", name, r.Conclusion, time.Since(start).Round(100*time.Millisecond))
			return r
		}
		if time.Now().After(deadline) {
			r, _ := f.run(sha)
			f.t.Fatalf("%s: no verdict on %.7s in 4m; check run %+v\n%s", name, sha, r, f.describe())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// expect checks a check run's conclusion and what it says.
func (f *fleetRun) expect(name string, r githubtest.CheckRun, conclusion string, says ...string) {
	f.t.Helper()
	if r.Conclusion != conclusion {
		f.t.Errorf("%s: %s, want %s\n%s\n%s", name, r.Conclusion, conclusion, r.Title, r.Summary)
	}
	for _, want := range says {
		if !strings.Contains(r.Title+"\n"+r.Summary, want) {
			f.t.Errorf("%s: the check does not say %q:\n%s\n%s", name, want, r.Title, r.Summary)
		}
	}
}

// settle checks a merge's verdict: expect of verdict.
func (f *fleetRun) settle(name, sha, conclusion string, says ...string) githubtest.CheckRun {
	f.t.Helper()
	r := f.verdict(name, sha)
	f.expect(name, r, conclusion, says...)
	return r
}

// waitShown waits until the in-progress check of sha says want.
func (f *fleetRun) waitShown(what, sha, want string) {
	f.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r, ok := f.run(sha)
		if ok && r.Status == "in_progress" && strings.Contains(r.Summary, want) {
			return
		}
		if ok && r.Status == "completed" {
			f.t.Fatalf("%s: the check completed %s before it said %q:\n%s", what, r.Conclusion, want, r.Summary)
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%s: the check never said %q; check run %+v\n%s", what, want, r, f.describe())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// status sends a /status comment and returns the bot's reply.
func (f *fleetRun) status(command string) string {
	f.t.Helper()
	before := len(f.gh.Comments(1))
	webhook(f.t, f.srv.URL, "issue_comment", "issue_comment/created.json", map[string]any{
		"repository": f.repository, "installation": map[string]any{"id": 1}, "comment.body": command,
	})
	var reply string
	eventually(f.t, "the reply to "+command, func() bool {
		if cs := f.gh.Comments(1); len(cs) > before {
			reply = cs[len(cs)-1].Body
		}
		return reply != ""
	})
	return reply
}
