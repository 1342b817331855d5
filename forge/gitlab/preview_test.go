package gitlab_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot"
	"github.com/gitops-bot/gitops-bot/examples"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/gitlab"
)

// On GitLab a merge request's preview is a commit status per environment
// it reaches, and one note on the merge request, updated in place on the
// next push.
func TestPreviewOnAMergeRequest(t *testing.T) {
	url := "http://gitlab.test/gitlab-org/gitlab-test.git"
	files, err := examples.Files("flux", url)
	if err != nil {
		t.Fatal(err)
	}
	s, api := fakeProject(t, files)
	c := gitlab.NewClient(api)
	ctx := context.Background()
	repo := forge.Repo{Host: "gitlab", Owner: "gitlab-org", Name: "gitlab-test", DefaultBranch: "master", CloneURL: url}
	dep := "apps/base/frontend/deployment.yaml"
	push := func(cpu string) forge.PullEvent {
		t.Helper()
		content := strings.Replace(files[dep], "cpu: 100m", "cpu: "+cpu, 1)
		pr, err := c.Propose(ctx, repo, forge.Change{Branch: "cpu", Base: "master", Title: "More CPU", Message: "More CPU",
			Files: []forge.File{{Path: dep, Content: []byte(content)}}})
		if err != nil {
			t.Fatal(err)
		}
		return forge.PullEvent{Repo: repo, Number: pr.Number, HeadSHA: pr.Head, Base: "master"}
	}
	b := bot.New(quiet)
	ev := push("300m")
	if err := b.HandlePull(ctx, c, ev); err != nil {
		t.Fatal(err)
	}
	statuses := map[string]string{}
	for _, st := range s.Statuses() {
		if st.SHA == ev.HeadSHA {
			statuses[st.Name] = st.State + ": " + st.Description
		}
	}
	for _, env := range []string{"staging", "production"} {
		if got := statuses[bot.PreviewCheckPrefix+env]; !strings.HasPrefix(got, "success: "+env+": 0 added, 1 changed, 0 removed") {
			t.Errorf("%s: status %q (all: %v)", env, got, statuses)
		}
	}
	note := func() []string {
		var out []string
		for _, n := range s.Notes() {
			if n.MR && strings.Contains(n.Body, "What each environment will get") {
				out = append(out, n.Body)
			}
		}
		return out
	}
	if got := note(); len(got) != 1 || !strings.Contains(got[0], "| CPU requests | `200m` | `600m` |") {
		t.Fatalf("notes %q", got)
	}
	ev = push("500m")
	if err := b.HandlePull(ctx, c, ev); err != nil {
		t.Fatal(err)
	}
	if got := note(); len(got) != 1 || !strings.Contains(got[0], "| CPU requests | `200m` | `1` |") {
		t.Errorf("after a push, notes %q", got)
	}
}
