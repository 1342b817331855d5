package github_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/github"
)

func TestCheckRunLifecycle(t *testing.T) {
	c, s := newClient(t, nil)
	ctx := context.Background()
	sha := s.Head("main")
	ch := forge.Check{Name: "gitops-bot/sync: staging", ExternalID: "pr/1/env/staging", Status: "queued", Title: "Waiting", Summary: "waiting"}
	created, err := c.Report(ctx, repo, sha, ch)
	if err != nil || created.ID == 0 {
		t.Fatalf("create: %+v %v", created, err)
	}
	// Without the ID (a bot that crashed before storing it), the same check is found and updated.
	ch.Status, ch.Title = "in_progress", "Applying"
	again, err := c.Report(ctx, repo, sha, ch)
	if err != nil || again.ID != created.ID {
		t.Fatalf("lookup: %+v %v", again, err)
	}
	ch.ID, ch.Status, ch.Conclusion, ch.Summary = created.ID, "completed", "success", strings.Repeat("x", 100)
	if _, err := c.Report(ctx, repo, sha, ch); err != nil {
		t.Fatal(err)
	}
	runs := s.CheckRuns()
	if len(runs) != 1 || strings.Join(runs[0].History, ",") != "queued/,in_progress/,completed/success" || runs[0].ExternalID != "pr/1/env/staging" {
		t.Errorf("check runs = %+v", runs)
	}
	got, err := c.GetCheck(ctx, repo, sha, created.ID)
	if err != nil || got.Status != "completed" || got.Conclusion != "success" {
		t.Errorf("GetCheck = %+v, %v", got, err)
	}
	// The update carries the conclusion only when completed, as the API requires.
	var last []byte
	for _, r := range s.Requests() {
		if r.Method == http.MethodPatch {
			last = r.Body
		}
	}
	var body map[string]any
	json.Unmarshal(last, &body)
	if body["conclusion"] != "success" || body["output"].(map[string]any)["summary"] == nil {
		t.Errorf("completion request = %s", last)
	}
}

func TestContainsUsesCompare(t *testing.T) {
	c, s := newClient(t, nil)
	ctx := context.Background()
	m := s.Head("main")
	later := s.AddCommit("main", "later")
	s.AddBranch("side", "main")
	for _, tc := range []struct {
		desc, anc string
		want      bool
	}{
		{later, m, true}, {m, m, true}, {m, later, false}, {strings.Repeat("0", 40), m, false},
	} {
		got, err := c.Contains(ctx, repo, tc.desc, tc.anc)
		if err != nil || got != tc.want {
			t.Errorf("Contains(%.7s, %.7s) = %v, %v; want %v", tc.desc, tc.anc, got, err, tc.want)
		}
	}
	if n := s.Count("GET /repos/acme/fleet/compare/" + m + "..." + later); n != 1 {
		t.Errorf("compare calls %d", n)
	}
}

func TestPullAndFiles(t *testing.T) {
	c, s := newClient(t, nil)
	ctx := context.Background()
	pr, err := c.Propose(ctx, repo, change(2))
	if err != nil {
		t.Fatal(err)
	}
	sha := s.Merge(pr.Number)
	info, err := c.Pull(ctx, repo, pr.Number)
	if err != nil || !info.Merged || info.MergeSHA != sha || info.Base != "main" {
		t.Errorf("Pull = %+v, %v", info, err)
	}
	files, err := c.PullFiles(ctx, repo, pr.Number)
	if err != nil || strings.Join(files, ",") != "clusters/staging/x-00.yaml,clusters/staging/x-01.yaml" {
		t.Errorf("PullFiles = %v, %v", files, err)
	}
	if _, err := c.Pull(ctx, repo, 99); err == nil {
		t.Error("a missing pull request was found")
	}
}

func TestWebhookMergeAndRerun(t *testing.T) {
	r := newRecorder()
	wh := newHook(t, r, github.Options{})
	merged := edit(t, payload(t, "pull_request/closed.merged.json"), map[string]any{"installation": map[string]any{"id": 1}})
	if rec := deliver(wh, "pull_request", "m1", merged, true); rec.Code != http.StatusAccepted {
		t.Fatalf("status %d", rec.Code)
	}
	select {
	case ev := <-r.merges:
		if !ev.Pull.Merged || ev.Pull.Number != 3 || ev.Pull.MergeSHA != "a21683865c088b5fe1906cf6552d15a285a4986d" ||
			ev.Repo.FullName() != "ailisp/gcbapp-buildconfig-example" || ev.Repo.Installation != 1 || ev.Env != "" {
			t.Errorf("merge event %+v", ev)
		}
	case <-timeout():
		t.Fatal("merge not handled")
	}
	// Closed without merging, opened, a check run of another app: nothing to verify.
	deliver(wh, "pull_request", "m2", payload(t, "pull_request/closed.unmerged.json"), true)
	deliver(wh, "pull_request", "m3", payload(t, "pull_request/opened.json"), true)
	deliver(wh, "check_run", "c1", payload(t, "check_run/rerequested.json"), true)
	select {
	case ev := <-r.merges:
		t.Errorf("unexpected merge event %+v", ev)
	case <-shortWait():
	}
	// Opened and pushed to: the head commit, for the config check.
	deliver(wh, "pull_request", "s1", edit(t, payload(t, "pull_request/synchronize.json"), map[string]any{"installation": map[string]any{"id": 1}}), true)
	for _, id := range []string{"m3", "s1"} {
		select {
		case ev := <-r.pulls:
			if ev.Number != 2 || ev.HeadSHA != "ec26c3e57ca3a959ca5aad62de7213c562f8c821" || ev.Repo.FullName() != "Codertocat/Hello-World" {
				t.Errorf("%s: pull event %+v", id, ev)
			}
		case <-timeout():
			t.Fatalf("%s: pull event not handled", id)
		}
	}
	// Closed without merging: no config check either.
	select {
	case ev := <-r.pulls:
		t.Errorf("unexpected pull event %+v", ev)
	case <-shortWait():
	}
}
