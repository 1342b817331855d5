package main

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/gitops-bot/gitops-bot/bot"
	"github.com/gitops-bot/gitops-bot/examples"
	"github.com/gitops-bot/gitops-bot/forge/github/githubtest"
	"github.com/gitops-bot/gitops-bot/providers/chartrender/chartrendertest"
)

// webChart renders a Deployment whose replicas and image come from its
// values, as a third-party chart does.
const webChart = `apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ .Chart.Name }}}
spec:
  replicas: {{ .Values.replicaCount }}
  selector: {matchLabels: {app: {{ .Chart.Name }}}}
  template:
    metadata: {labels: {app: {{ .Chart.Name }}}}
    spec:
      containers:
      - name: {{ .Chart.Name }}
        image: {{ .Values.image }}
        resources: {requests: {cpu: 50m, memory: 64Mi}}
`

// previewFleet is a GitHub fleet (the Flux example) served by serve, with
// the helpers the preview tests share.
type previewFleet struct {
	t     *testing.T
	gh    *githubtest.Server
	s     *server
	url   string
	logs  *syncBuffer
	files map[string]string
}

func newPreviewFleet(t *testing.T, provider string, adjust ...func(*serverConfig)) *previewFleet {
	gh := githubtest.New(t, "acme", "fleet", nil)
	files, err := examples.Files(provider, gh.WebURL()+"/acme/fleet.git")
	if err != nil {
		t.Fatal(err)
	}
	gh.Push("main", "the fleet", files)
	s, srv, logs := serveGitHubLogs(t, gh, append([]func(*serverConfig){func(c *serverConfig) {
		c.GitHub.WebURL = gh.WebURL()
		c.CatchUp.Disabled = true
		c.Preview.Delay = 200 * time.Millisecond
	}}, adjust...)...)
	return &previewFleet{t: t, gh: gh, s: s, url: srv.URL, logs: logs, files: files}
}

// deliver sends the pull_request event GitHub sends for a new head.
func (p *previewFleet) deliver(number int, head, from string) {
	p.t.Helper()
	webhook(p.t, p.url, "pull_request", "pull_request/opened.json", map[string]any{
		"action": "opened", "installation": map[string]any{"id": 1},
		"repository.name": "fleet", "repository.full_name": "acme/fleet", "repository.owner.login": "acme",
		"repository.clone_url": p.gh.WebURL() + "/acme/fleet.git",
		"pull_request.number":  number, "pull_request.head.sha": head, "pull_request.base.sha": p.gh.Head("main"),
		"pull_request.base.repo.full_name": "acme/fleet", "pull_request.head.repo.full_name": from,
	})
}

// checks are the preview checks on a commit, by name.
func (p *previewFleet) checks(sha string) map[string]githubtest.CheckRun {
	out := map[string]githubtest.CheckRun{}
	for _, c := range p.gh.CheckRuns() {
		if c.HeadSHA == sha && strings.HasPrefix(c.Name, "gitops-bot/preview") {
			out[c.Name] = c
		}
	}
	return out
}

// open opens a pull request of changes (nil deletes) from main.
func (p *previewFleet) open(branch string, changes map[string]*string) (int, string) {
	p.t.Helper()
	n := p.gh.OpenPull(p.t, "main", branch, branch, changes)
	return n, p.gh.Head(branch)
}

// change opens a pull request replacing old with new in one file.
func (p *previewFleet) change(branch, path, old, new string) (int, string) {
	p.t.Helper()
	content := strings.Replace(p.files[path], old, new, 1)
	if content == p.files[path] {
		p.t.Fatalf("%s has no %q", path, old)
	}
	return p.open(branch, map[string]*string{path: &content})
}

// merge puts files on main, as a merged pull request would.
func (p *previewFleet) merge(files map[string]string) {
	maps.Copy(p.files, files)
	p.gh.Push("main", "merged", maps.Clone(p.files))
}

// previewed waits for n preview checks on head and returns them.
func (p *previewFleet) previewed(head string, n int) map[string]githubtest.CheckRun {
	p.t.Helper()
	eventually(p.t, fmt.Sprintf("%d previews", n), func() bool { return len(p.checks(head)) == n && p.s.pending() == 0 })
	return p.checks(head)
}

// People's pull requests, delivered as GitHub delivers them, get a
// preview check per environment they reach on their head, through serve.
// One worker handles the queue, so a burst of pushes is judged by the
// host's newest head, not by the order of handling.
func TestPreviewOnPullRequests(t *testing.T) {
	charts := chartrendertest.Serve(t,
		chartrendertest.Chart("web", "1.0.0", "replicaCount: 1\nimage: nginx:1.27.0\n", map[string]string{"deployment.yaml": webChart}),
		chartrendertest.Chart("api", "2.1.0", "replicaCount: 2\nimage: ghcr.io/acme/api:2.1.0\n", map[string]string{"deployment.yaml": webChart}))
	p := newPreviewFleet(t, "flux", func(c *serverConfig) { c.Charts.Disabled = false; c.Queue.Workers = 1 })

	t.Run("base change", func(t *testing.T) {
		n, head := p.change("cpu", "apps/base/frontend/deployment.yaml", "cpu: 100m", "cpu: 300m")
		p.deliver(n, head, "acme/fleet")
		for _, env := range []string{"staging", "production"} {
			c := p.previewed(head, 2)[bot.PreviewCheckPrefix+env]
			if c.Status != "completed" || c.Conclusion != "success" || !strings.Contains(c.Title, env+": 0 added, 1 changed, 0 removed") ||
				!strings.Contains(c.Summary, "| CPU requests | `200m` | `600m` |") || !strings.Contains(c.Text, "+            cpu: 300m") {
				t.Errorf("%s: %+v", env, c)
			}
		}
	})
	t.Run("a values change of a remote chart", func(t *testing.T) {
		p.merge(map[string]string{"clusters/staging/web.yaml": fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: charts, namespace: flux-system}
spec: {interval: 1h, url: %s}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: flux-system}
spec:
  interval: 10m
  targetNamespace: web
  chart:
    spec: {chart: web, version: 1.0.0, sourceRef: {kind: HelmRepository, name: charts}}
  values:
    replicaCount: 1
`, charts.URL())})
		n, head := p.change("web", "clusters/staging/web.yaml", "replicaCount: 1", "replicaCount: 3")
		p.deliver(n, head, "acme/fleet")
		c := p.previewed(head, 1)[bot.PreviewCheckPrefix+"staging"]
		// The HelmRelease and the Deployment its chart renders from the
		// new values: the chart was fetched and rendered on both sides.
		if c.Conclusion != "success" || !strings.Contains(c.Title, "0 added, 2 changed, 0 removed") ||
			!strings.Contains(c.Summary, "| HelmRelease flux-system/web | 0 | 1 | 0 |") || !strings.Contains(c.Summary, "| CPU requests | `250m` | `350m` |") ||
			!strings.Contains(c.Text, "-  replicas: 1") || !strings.Contains(c.Text, "+  replicas: 3") {
			t.Errorf("%+v", c)
		}
		if charts.Fetched.Load() == 0 {
			t.Error("the chart was never fetched")
		}
	})
	t.Run("broken kustomization", func(t *testing.T) {
		n, head := p.change("broken", "apps/overlays/staging/frontend/kustomization.yaml", "- ../../../base/frontend", "- ../../../base/gone")
		p.deliver(n, head, "acme/fleet")
		c := p.previewed(head, 1)[bot.PreviewCheckPrefix+"staging"]
		if c.Conclusion != "failure" || len(c.Annotations) == 0 || c.Annotations[0].Path != "clusters/staging/frontend.yaml" || c.Annotations[0].Level != "failure" ||
			!strings.Contains(c.Annotations[0].Message, "base/gone") {
			t.Errorf("%+v", c)
		}
		if strings.Contains(c.Summary, "removed**") && !strings.Contains(c.Summary, "0 removed") {
			t.Errorf("the failed side shown as removed objects:\n%s", c.Summary)
		}
	})
	t.Run("a Secret added, then changed", func(t *testing.T) {
		secret := func(v string) string {
			return "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: " + v + "}\n"
		}
		k := "apps/overlays/staging/frontend/kustomization.yaml"
		kust := strings.Replace(p.files[k], "- namespace.yaml\n", "- namespace.yaml\n- secret.yaml\n", 1)
		added := secret("s3cr3t-value-one")
		n, head := p.open("secret", map[string]*string{k: &kust, "apps/overlays/staging/frontend/secret.yaml": &added})
		p.deliver(n, head, "acme/fleet")
		c := p.previewed(head, 1)[bot.PreviewCheckPrefix+"staging"]
		if strings.Contains(c.Summary+c.Text+c.Title, "s3cr3t-value-one") || !strings.Contains(c.Text, "password: '***'") || !strings.Contains(c.Title, "1 added") {
			t.Errorf("added: %+v", c)
		}

		p.merge(map[string]string{k: kust, "apps/overlays/staging/frontend/secret.yaml": added})
		n, head = p.change("secret-rotated", "apps/overlays/staging/frontend/secret.yaml", "s3cr3t-value-one", "s3cr3t-value-two")
		p.deliver(n, head, "acme/fleet")
		c = p.previewed(head, 1)[bot.PreviewCheckPrefix+"staging"]
		if strings.Contains(c.Summary+c.Text+c.Title, "s3cr3t-value") || !strings.Contains(c.Text, "password: '*** (before)'") ||
			!strings.Contains(c.Text, "password: '*** (after)'") || !strings.Contains(c.Title, "1 changed") {
			t.Errorf("changed: %+v", c)
		}
	})
	t.Run("300 objects changed", func(t *testing.T) {
		var many strings.Builder
		for i := range 300 {
			fmt.Fprintf(&many, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings-%03d}\ndata: {level: info}\n", i)
		}
		k := "apps/overlays/staging/frontend/kustomization.yaml"
		p.merge(map[string]string{k: strings.Replace(p.files[k], "- namespace.yaml\n", "- namespace.yaml\n- settings.yaml\n", 1),
			"apps/overlays/staging/frontend/settings.yaml": many.String()})
		debug := strings.ReplaceAll(many.String(), "level: info", "level: debug")
		n, head := p.open("debug", map[string]*string{"apps/overlays/staging/frontend/settings.yaml": &debug})
		p.deliver(n, head, "acme/fleet")
		c := p.previewed(head, 1)[bot.PreviewCheckPrefix+"staging"]
		// Every changed object is listed; the diffs are cut to GitHub's
		// size, saying how to see them all.
		if c.Conclusion != "success" || !strings.Contains(c.Title, "0 added, 300 changed, 0 removed") ||
			!strings.Contains(c.Text, "ConfigMap frontend/settings-000 changed") || !strings.Contains(c.Text, "settings-299 (changed") ||
			len(c.Summary) > 65535 || len(c.Text) > 65535 || !strings.Contains(c.Text+c.Summary, "gitops-bot preview --base") {
			t.Errorf("title %q, summary %d chars, text %d chars:\n%.3000s\n%s", c.Title, len(c.Summary), len(c.Text), c.Summary, c.Text[len(c.Text)-3000:])
		}
	})
	t.Run("the bot's own /deploy pull request", func(t *testing.T) {
		p.gh.SetPermission("Codertocat", "write")
		webhook(t, p.url, "issue_comment", "issue_comment/created.json", map[string]any{
			"installation": map[string]any{"id": 1}, "repository.name": "fleet", "repository.full_name": "acme/fleet",
			"repository.owner.login": "acme", "repository.default_branch": "main", "repository.clone_url": p.gh.WebURL() + "/acme/fleet.git",
			"comment.body": "/deploy api --chart " + charts.URL() + "/api --version 2.1.0 --env staging",
		})
		var pr githubtest.PR
		eventually(t, "the bot's pull request", func() bool {
			for _, q := range p.gh.Pulls() {
				if strings.Contains(q.Title, "api") {
					pr = q
					return true
				}
			}
			return false
		})
		// GitHub sends the App the pull_request event of its own pull
		// request, as of anyone's.
		head := p.gh.Head(pr.Head)
		p.deliver(pr.Number, head, "acme/fleet")
		eventually(t, "the preview", func() bool { return len(p.checks(head)) > 0 && p.s.pending() == 0 })
		c := p.checks(head)[bot.PreviewCheckPrefix+"staging"]
		if c.Conclusion != "success" || !strings.Contains(c.Title, "added") || !strings.Contains(c.Summary, "| HelmRelease flux-system/api | 1 | 0 | 0 |") || !strings.Contains(c.Text, "Deployment api/api added") ||
			!strings.Contains(c.Text, "image: ghcr.io/acme/api:2.1.0") {
			t.Errorf("%+v", c)
		}
	})
	t.Run("a burst of pushes", func(t *testing.T) {
		n, first := p.change("burst", "apps/base/frontend/deployment.yaml", "cpu: 100m", "cpu: 110m")
		tree := maps.Clone(p.files)
		tree["apps/base/frontend/deployment.yaml"] = strings.Replace(p.files["apps/base/frontend/deployment.yaml"], "cpu: 100m", "cpu: 120m", 1)
		second := p.gh.Push("burst", "again", tree) // the whole tree, as a push makes it
		p.deliver(n, first, "acme/fleet")
		p.deliver(n, second, "acme/fleet")
		p.previewed(second, 2)
		if got := p.checks(first); len(got) != 0 {
			t.Errorf("the superseded head was previewed too: %v", got)
		}
	})
	t.Run("fork", func(t *testing.T) {
		n, head := p.change("fork", "apps/base/frontend/deployment.yaml", "cpu: 100m", "cpu: 400m")
		p.deliver(n, head, "mallory/fleet")
		eventually(t, "the delivery handled", func() bool {
			return p.s.pending() == 0 && strings.Contains(p.logs.String(), "a pull request from a fork")
		})
		if got := p.checks(head); len(got) != 0 {
			t.Errorf("a fork's pull request previewed without preview.forks: %v", got)
		}
	})
}

// An ApplicationSet whose git generator gains a directory: the preview of
// the environment says one Application and what it applies are added,
// nothing else.
func TestPreviewOfAnApplicationSetGainingADirectory(t *testing.T) {
	p := newPreviewFleet(t, "argocd")
	url := p.gh.WebURL() + "/acme/fleet.git"
	cm := func(name string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + "}\ndata: {team: platform}\n"
	}
	p.merge(map[string]string{
		"clusters/staging/services.yaml": `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: services, namespace: argocd}
spec:
  goTemplate: true
  generators:
  - git:
      repoURL: ` + url + `
      revision: main
      directories:
      - path: services/*
  template:
    metadata: {name: '{{.path.basename}}-staging'}
    spec:
      project: default
      source: {repoURL: ` + url + `, targetRevision: main, path: '{{.path.path}}'}
      destination: {server: https://kubernetes.default.svc, namespace: '{{.path.basename}}'}
`,
		"services/billing/config.yaml": cm("billing"),
	})
	added := cm("search")
	n, head := p.open("search", map[string]*string{"services/search/config.yaml": &added})
	p.deliver(n, head, "acme/fleet")
	c := p.previewed(head, 1)[bot.PreviewCheckPrefix+"staging"]
	if c.Conclusion != "success" || !strings.Contains(c.Title, "staging: 2 added, 0 changed, 0 removed") ||
		!strings.Contains(c.Text, "Application argocd/search-staging added") || !strings.Contains(c.Text, "ConfigMap search/search added") ||
		strings.Contains(c.Text, "billing") {
		t.Errorf("%+v", c)
	}
}
