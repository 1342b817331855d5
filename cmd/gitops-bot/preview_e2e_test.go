package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot"
	"github.com/gitops-bot/gitops-bot/examples"
	"github.com/gitops-bot/gitops-bot/forge/github/githubtest"
)

// People's pull requests, delivered as GitHub delivers them, get a
// preview check per environment they reach on their head, through serve:
// a base change reaching both environments, a broken kustomization marked
// on its line, a Secret changed with its values masked; a pull request
// from a fork gets none unless the repository allows it.
func TestPreviewOnPullRequests(t *testing.T) {
	gh := githubtest.New(t, "acme", "fleet", nil)
	files, err := examples.Files("flux", gh.WebURL()+"/acme/fleet.git")
	if err != nil {
		t.Fatal(err)
	}
	gh.Push("main", "the fleet", files)
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
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	srv := httptest.NewServer(s)
	defer srv.Close()

	base := gh.Head("main")
	deliver := func(number int, head, from string) {
		t.Helper()
		webhook(t, srv.URL, "pull_request", "pull_request/opened.json", map[string]any{
			"action": "opened", "installation": map[string]any{"id": 1},
			"repository.name": "fleet", "repository.full_name": "acme/fleet", "repository.owner.login": "acme",
			"repository.clone_url": gh.WebURL() + "/acme/fleet.git",
			"pull_request.number":  number, "pull_request.head.sha": head, "pull_request.base.sha": base,
			"pull_request.base.repo.full_name": "acme/fleet", "pull_request.head.repo.full_name": from,
		})
	}
	checks := func(sha string) map[string]githubtest.CheckRun {
		out := map[string]githubtest.CheckRun{}
		for _, c := range gh.CheckRuns() {
			if c.HeadSHA == sha && strings.HasPrefix(c.Name, "gitops-bot/preview") {
				out[c.Name] = c
			}
		}
		return out
	}
	change := func(branch, path, old, new string) (int, string) {
		t.Helper()
		content := strings.Replace(files[path], old, new, 1)
		if content == files[path] {
			t.Fatalf("%s has no %q", path, old)
		}
		n := gh.OpenPull(t, "main", branch, branch, map[string]*string{path: &content})
		return n, gh.Head(branch)
	}

	t.Run("base change", func(t *testing.T) {
		n, head := change("cpu", "apps/base/frontend/deployment.yaml", "cpu: 100m", "cpu: 300m")
		deliver(n, head, "acme/fleet")
		eventually(t, "two previews", func() bool { return len(checks(head)) == 2 })

		for _, env := range []string{"staging", "production"} {
			c := checks(head)[bot.PreviewCheckPrefix+env]
			if c.Status != "completed" || c.Conclusion != "success" || !strings.Contains(c.Title, env+": 0 added, 1 changed, 0 removed") ||
				!strings.Contains(c.Summary, "| CPU requests | `200m` | `600m` |") || !strings.Contains(c.Text, "+            cpu: 300m") {
				t.Errorf("%s: %+v", env, c)
			}
		}
	})
	t.Run("broken kustomization", func(t *testing.T) {
		n, head := change("broken", "apps/overlays/staging/frontend/kustomization.yaml", "- ../../../base/frontend", "- ../../../base/gone")
		deliver(n, head, "acme/fleet")
		eventually(t, "the preview", func() bool { return len(checks(head)) == 1 })
		c := checks(head)[bot.PreviewCheckPrefix+"staging"]
		if c.Conclusion != "failure" || len(c.Annotations) == 0 || c.Annotations[0].Path != "clusters/staging/frontend.yaml" || c.Annotations[0].Level != "failure" {
			t.Errorf("%+v", c)
		}
		if strings.Contains(c.Summary, "removed**") && !strings.Contains(c.Summary, "0 removed") {
			t.Errorf("the failed side shown as removed objects:\n%s", c.Summary)
		}
	})
	t.Run("a Secret changed", func(t *testing.T) {
		secret := "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: s3cr3t-value-new}\n"
		k := "apps/overlays/staging/frontend/kustomization.yaml"
		kust := strings.Replace(files[k], "- namespace.yaml\n", "- namespace.yaml\n- secret.yaml\n", 1)
		n := gh.OpenPull(t, "main", "secret", "secret", map[string]*string{k: &kust, "apps/overlays/staging/frontend/secret.yaml": &secret})
		head := gh.Head("secret")
		deliver(n, head, "acme/fleet")
		eventually(t, "the preview", func() bool { return len(checks(head)) == 1 })
		c := checks(head)[bot.PreviewCheckPrefix+"staging"]
		if strings.Contains(c.Summary+c.Text+c.Title, "s3cr3t-value-new") || !strings.Contains(c.Text, "password: '***'") || !strings.Contains(c.Title, "1 added") {
			t.Errorf("%+v", c)
		}
	})
	t.Run("a burst of pushes", func(t *testing.T) {
		n, first := change("burst", "apps/base/frontend/deployment.yaml", "cpu: 100m", "cpu: 110m")
		tree := map[string]string{}
		for k, v := range files {
			tree[k] = v
		}
		tree["apps/base/frontend/deployment.yaml"] = strings.Replace(files["apps/base/frontend/deployment.yaml"], "cpu: 100m", "cpu: 120m", 1)
		second := gh.Push("burst", "again", tree) // the whole tree, as a push makes it
		deliver(n, first, "acme/fleet")
		deliver(n, second, "acme/fleet")
		eventually(t, "the newest head's previews", func() bool { return len(checks(second)) == 2 })
		eventually(t, "the deliveries handled", func() bool { return s.pending() == 0 })
		if got := checks(first); len(got) != 0 {
			t.Errorf("the superseded head was previewed too: %v", got)
		}
	})
	t.Run("fork", func(t *testing.T) {
		n, head := change("fork", "apps/base/frontend/deployment.yaml", "cpu: 100m", "cpu: 400m")
		deliver(n, head, "mallory/fleet")
		eventually(t, "the delivery handled", func() bool { return s.pending() == 0 && strings.Contains(logs.String(), "a pull request from a fork") })
		if got := checks(head); len(got) != 0 {
			t.Errorf("a fork's pull request previewed without preview.forks: %v", got)
		}
	})
}
