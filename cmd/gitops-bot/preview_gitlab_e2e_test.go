package main

import (
	"context"
	"strings"
	"testing"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitops-bot/gitops-bot/bot"
	"github.com/gitops-bot/gitops-bot/examples"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/gitlab"
	"github.com/gitops-bot/gitops-bot/forge/gitlab/gitlabtest"
)

// A merge request, delivered as GitLab delivers its hook, gets through
// serve a commit status per environment it reaches and one note with the
// previews; a push updates both in place.
func TestPreviewOnMergeRequests(t *testing.T) {
	url := "http://example.com/gitlabhq/gitlab-test.git"
	files, err := examples.Files("flux", url)
	if err != nil {
		t.Fatal(err)
	}
	lab := gitlabtest.New(t, "gitlabhq/gitlab-test", "glpat-test", files)
	lab.AddBranch("master", "main")
	cfg := &serverConfig{DataDir: t.TempDir()}
	cfg.GitLab = gitlabConfig{BaseURL: lab.BaseURL(), Token: "glpat-test", WebhookSecret: "gl-secret", BotUser: "gitops-bot"}
	cfg.CatchUp.Disabled, cfg.Charts.Disabled = true, true
	cfg.Preview.Delay = 100 * time.Millisecond
	s, srv, _, _ := startServer(t, cfg, nil)

	api, err := gl.NewClient("glpat-test", gl.WithBaseURL(lab.BaseURL()))
	if err != nil {
		t.Fatal(err)
	}
	person := gitlab.NewClient(api)
	repo := forge.Repo{Host: "gitlab", Owner: "gitlabhq", Name: "gitlab-test", DefaultBranch: "master", CloneURL: url}
	dep := "apps/base/frontend/deployment.yaml"
	push := func(cpu, oldrev string) (int, string) {
		t.Helper()
		content := strings.Replace(files[dep], "cpu: 100m", "cpu: "+cpu, 1)
		pr, err := person.Propose(context.Background(), repo, forge.Change{Branch: "cpu", Base: "master", Title: "More CPU", Message: "More CPU",
			Files: []forge.File{{Path: dep, Content: []byte(content)}}})
		if err != nil {
			t.Fatal(err)
		}
		edits := map[string]any{"object_attributes.iid": pr.Number, "object_attributes.target_branch": "master",
			"object_attributes.last_commit": map[string]any{"id": pr.Head}}
		if oldrev != "" {
			edits["object_attributes.action"], edits["object_attributes.oldrev"] = "update", oldrev
		}
		gitlabHook(t, srv.URL, "Merge Request Hook", "merge_request.json", edits)
		return pr.Number, pr.Head
	}
	statuses := func(sha string) map[string]string {
		out := map[string]string{}
		for _, st := range lab.Statuses() {
			if st.SHA == sha && strings.HasPrefix(st.Name, bot.PreviewCheckPrefix) {
				out[strings.TrimPrefix(st.Name, bot.PreviewCheckPrefix)] = st.State + ": " + st.Description
			}
		}
		return out
	}
	notes := func() []string {
		var out []string
		for _, n := range lab.Notes() {
			if n.MR && strings.Contains(n.Body, "What each environment will get") {
				out = append(out, n.Body)
			}
		}
		return out
	}

	_, first := push("300m", "")
	eventually(t, "two statuses", func() bool { return len(statuses(first)) == 2 && len(notes()) == 1 && s.pending() == 0 })
	for env, got := range statuses(first) {
		if !strings.HasPrefix(got, "success: "+env+": 0 added, 1 changed, 0 removed") {
			t.Errorf("%s: %q", env, got)
		}
	}
	if n := notes()[0]; !strings.Contains(n, "| CPU requests | `200m` | `600m` |") {
		t.Errorf("note:\n%s", n)
	}
	_, second := push("500m", first)
	eventually(t, "the statuses of the push", func() bool { return len(statuses(second)) == 2 && s.pending() == 0 })
	if got := notes(); len(got) != 1 || !strings.Contains(got[0], "| CPU requests | `200m` | `1` |") {
		t.Errorf("after a push, notes %q", got)
	}
}
