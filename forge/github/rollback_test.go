package github_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/forge/github/githubtest"
)

// /rollback against the fake GitHub: a merged bot change is reverted from
// the merge commit's first parent, in a new pull request.
func TestRollbackThroughGitHub(t *testing.T) {
	s := githubtest.New(t, "acme", "fleet", forgetest.RollbackFleet)
	s.SetPermission("alice", "write")
	r := forge.Repo{Host: "github", Owner: "acme", Name: "fleet", DefaultBranch: "main", CloneURL: "https://github.com/acme/fleet.git"}
	comment := func(thread int, isPR bool, body string) {
		t.Helper()
		ev := forge.CommentEvent{Repo: r, Thread: thread, IsPR: isPR, CommentID: s.AddComment(thread, "alice", body), Body: body, Author: "alice"}
		if err := bot.New(quiet).HandleComment(context.Background(), clientFor(t, s), ev); err != nil {
			t.Fatal(err)
		}
	}
	comment(7, false, "/scale podinfo 3 --env staging")
	if len(s.Pulls()) != 1 {
		t.Fatalf("no pull request: %+v", s.Comments(7))
	}
	s.Merge(1)
	if got, _ := s.File("main", "clusters/staging/podinfo.yaml"); !strings.Contains(got, "replicaCount: 3 # one is enough here") {
		t.Fatalf("merged file:\n%s", got)
	}
	comment(1, true, "/rollback")
	pulls := s.Pulls()
	if len(pulls) != 2 || pulls[1].Title != "Roll back #1" {
		t.Fatalf("pulls %+v; replies %+v", pulls, s.Comments(1))
	}
	got, _ := s.File(pulls[1].Head, "clusters/staging/podinfo.yaml")
	if got != forgetest.RollbackFleet["clusters/staging/podinfo.yaml"] {
		t.Errorf("rolled back file:\n%s", got)
	}
	if replies := s.Comments(1); len(replies) != 2 || !strings.Contains(replies[1].Body, "Opened #2: Roll back #1") {
		t.Errorf("replies %+v", replies)
	}
}
