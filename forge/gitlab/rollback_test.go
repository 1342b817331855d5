package gitlab_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitops-bot/gitops-bot/bot"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/forge/gitlab"
	"github.com/gitops-bot/gitops-bot/forge/gitlab/gitlabtest"
)

// /rollback against the fake GitLab: the merge request's merge commit is
// read back through the Commits API and its first parent restored.
func TestRollbackThroughGitLab(t *testing.T) {
	s := gitlabtest.New(t, "acme/fleet", "glpat-test", forgetest.RollbackFleet)
	s.SetMember("alice", 30)
	api, err := gl.NewClient("glpat-test", gl.WithBaseURL(s.BaseURL()))
	if err != nil {
		t.Fatal(err)
	}
	r := forge.Repo{Host: "gitlab", Owner: "acme", Name: "fleet", DefaultBranch: "main", CloneURL: "http://gitlab.test/acme/fleet.git"}
	comment := func(thread int, isMR bool, body string) {
		t.Helper()
		ev := forge.CommentEvent{Repo: r, Thread: thread, IsPR: isMR, CommentID: s.AddNote(int64(thread), isMR, "alice", body), Body: body, Author: "alice"}
		if err := bot.New(quiet).HandleComment(context.Background(), gitlab.NewClient(api), ev); err != nil {
			t.Fatal(err)
		}
	}
	comment(7, false, "/scale podinfo 3 --env staging")
	mrs := s.MRs()
	if len(mrs) != 1 {
		t.Fatalf("no merge request: %+v", s.Notes())
	}
	s.Merge(mrs[0].IID)
	comment(int(mrs[0].IID), true, "/rollback")
	mrs = s.MRs()
	if len(mrs) != 2 || mrs[1].Title != "Roll back !"+strconv.FormatInt(mrs[0].IID, 10) {
		t.Fatalf("merge requests %+v; notes %+v", mrs, s.Notes())
	}
	got, _ := s.File(mrs[1].Source, "clusters/staging/podinfo.yaml")
	if got != forgetest.RollbackFleet["clusters/staging/podinfo.yaml"] {
		t.Errorf("rolled back file:\n%s", got)
	}
	var reply string
	for _, n := range s.Notes() {
		if n.MR && strings.Contains(n.Body, "gitops-bot:reply:") {
			reply = n.Body
		}
	}
	if !strings.Contains(reply, "Roll back") {
		t.Errorf("reply: %q", reply)
	}
}
