package bot

import (
	"context"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/examples"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/forgetest"
)

var update = flag.Bool("update", false, "rewrite golden files")

const web = "/deploy web --image ghcr.io/acme/web:1.4.2 --port 8080 --env staging --env production --replicas 2 --ingress web.example.com"

// fleet returns a fake forge holding an example fleet, plus extra files.
func fleet(t testing.TB, name string, extra map[string]string) *forgetest.Fake {
	t.Helper()
	src, err := examples.Fleet(name)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(src, p)
			files[p] = string(b)
		}
		return err
	})
	for k, v := range extra {
		files[k] = v
	}
	f := newFake(files)
	return f
}

var fleetRepo = forge.Repo{Host: "github", Owner: "acme", Name: "fleet", DefaultBranch: "main", CloneURL: examples.URL}

func handleOn(t testing.TB, f *forgetest.Fake, body string) string {
	t.Helper()
	ev := forge.CommentEvent{Repo: fleetRepo, Thread: 7, CommentID: 1, Author: "alice", Body: body}
	if err := New(quiet).HandleComment(context.Background(), f, ev); err != nil {
		t.Fatalf("HandleComment: %v", err)
	}
	rs := f.Replies()
	return rs[len(rs)-1].Body
}

// golden compares the files of the one proposal with testdata/golden/NAME.
func golden(t *testing.T, name string, f *forgetest.Fake) {
	t.Helper()
	ps := f.Proposals()
	if len(ps) != 1 {
		t.Fatalf("proposals = %d; replies %v", len(ps), f.Replies())
	}
	var b strings.Builder
	for _, file := range ps[0].Files {
		b.WriteString("=== " + file.Path + "\n")
		b.Write(file.Content)
	}
	path := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		os.WriteFile(path, []byte(b.String()), 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("%s differs; got:\n%s", path, b.String())
	}
}

func TestDeployAppGolden(t *testing.T) {
	for _, c := range []struct{ name, fleet, args string }{
		{"flux-kustomize", "flux", ""},
		{"flux-helm", "flux", " --format helm"},
		{"argocd-kustomize", "argocd", ""},
		{"argocd-helm", "argocd", " --format helm"},
		{"argocd-kustomize-one-env", "argocd", " --env staging"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := fleet(t, c.fleet, nil)
			cmd := web + c.args
			if strings.Contains(c.args, "--env staging") {
				cmd = "/deploy web --image ghcr.io/acme/web:1.4.2 --port 8080" + c.args
			}
			reply := handleOn(t, f, cmd)
			if !strings.Contains(reply, "Opened #100") {
				t.Fatalf("reply = %s", reply)
			}
			golden(t, c.name, f)
		})
	}
}

func TestDeployAppReusesGitRepositoryAndListsInParentKustomization(t *testing.T) {
	f := fleet(t, "flux", map[string]string{
		"clusters/staging/kustomization.yaml": "# what Flux applies in staging\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - flux-system/gotk-sync.yaml # keep\n",
	})
	handleOn(t, f, "/deploy web --image ghcr.io/acme/web:1.4.2 --port 8080 --env staging")
	ps := f.Proposals()
	if len(ps) != 1 {
		t.Fatalf("replies %v", f.Replies())
	}
	got := map[string]string{}
	for _, file := range ps[0].Files {
		got[file.Path] = string(file.Content)
	}
	if k := got["clusters/staging/kustomization.yaml"]; !strings.Contains(k, "# what Flux applies in staging") || !strings.Contains(k, "# keep") || !strings.Contains(k, "- web.yaml") {
		t.Errorf("parent kustomization:\n%s", k)
	}
	if w := got["clusters/staging/web.yaml"]; strings.Contains(w, "apiVersion: source.toolkit.fluxcd.io") || !strings.Contains(w, "name: flux-system") {
		t.Errorf("wiring should reuse the flux-system GitRepository:\n%s", w)
	}
}

func TestDeployAppRejects(t *testing.T) {
	for _, c := range []struct{ name, cmd, want string }{
		{"image without tag", "/deploy web --image ghcr.io/acme/web --port 8080 --env staging", "pin a tag"},
		{"invalid image", "/deploy web --image 'ghcr.io/Acme/web:1' --port 8080 --env staging", "--image"},
		{"name", "/deploy Web --image ghcr.io/acme/web:1.4.2 --port 8080 --env staging", `APP "Web"`},
		{"no port", "/deploy web --image ghcr.io/acme/web:1.4.2 --env staging", "--port is required"},
		{"port range", "/deploy web --image ghcr.io/acme/web:1.4.2 --port 70000 --env staging", "from 1 to 65535"},
		{"replicas", "/deploy web --image ghcr.io/acme/web:1.4.2 --port 80 --replicas -1 --env staging", "--replicas"},
		{"host", "/deploy web --image ghcr.io/acme/web:1.4.2 --port 80 --ingress 'web_example.com' --env staging", "not a host name"},
		{"format", "/deploy web --image ghcr.io/acme/web:1.4.2 --port 80 --format jsonnet --env staging", "want kustomize or helm"},
		{"unknown environment", "/deploy web --image ghcr.io/acme/web:1.4.2 --port 80 --env qa", `unknown environment "qa" (this repository has: staging, production)`},
		{"both", "/deploy web --image ghcr.io/acme/web:1.4.2 --chart https://x.io/c --version 1.0.0 --env staging", "not both"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := fleet(t, "flux", nil)
			reply := handleOn(t, f, c.cmd)
			if len(f.Proposals()) != 0 || !strings.Contains(reply, c.want) {
				t.Errorf("proposals %d, reply:\n%s", len(f.Proposals()), reply)
			}
		})
	}
}

func TestDeployAppAlreadyThere(t *testing.T) {
	f := fleet(t, "flux", map[string]string{"apps/base/web/deployment.yaml": "kind: Deployment\n"})
	reply := handleOn(t, f, "/deploy web --image ghcr.io/acme/web:1.4.2 --port 8080 --env staging")
	if len(f.Proposals()) != 0 || !strings.Contains(reply, "already deployed here (`apps/base/web` exists)") || !strings.Contains(reply, "/set-image web") {
		t.Errorf("reply = %s", reply)
	}
}

func TestDeployAppBrokenRepositoryKustomization(t *testing.T) {
	f := fleet(t, "flux", map[string]string{
		"clusters/staging/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - flux-system/gotk-sync.yaml\n  - missing.yaml\n",
	})
	reply := handleOn(t, f, "/deploy web --image ghcr.io/acme/web:1.4.2 --port 8080 --env staging")
	if len(f.Proposals()) != 0 || !strings.Contains(reply, "does not pass the checks") || !strings.Contains(reply, "clusters/staging/kustomization.yaml: kustomize build failed") || !strings.Contains(reply, "missing.yaml") {
		t.Errorf("reply = %s", reply)
	}
}

func TestPlanShowsDiffAndOpensNothing(t *testing.T) {
	f := fleet(t, "flux", nil)
	reply := handleOn(t, f, "/plan "+strings.TrimPrefix(web, "/"))
	if len(f.Proposals()) != 0 || len(f.PullRequests()) != 0 {
		t.Fatal("/plan opened something")
	}
	for _, want := range []string{"Plan for", "Nothing was opened", "```diff", "--- /dev/null", "+++ b/apps/base/web/deployment.yaml", "+  replicas: 1", "| `production` | Kustomization |"} {
		if !strings.Contains(reply, want) {
			t.Errorf("plan lacks %q:\n%s", want, reply)
		}
	}
	reply = handleOn(t, f, "/plan /deploy podinfo --chart https://stefanprodan.github.io/podinfo/podinfo --version 6.7.0 --env staging")
	if !strings.Contains(reply, "+kind: HelmRelease") || len(f.Proposals()) != 0 {
		t.Errorf("plan of a chart:\n%s", reply)
	}
	for cmd, want := range map[string]string{"/plan": "missing the command", "/plan /help": "does not change files", "/plan /nope": "does not change files"} {
		if reply := handleOn(t, f, cmd); !strings.Contains(reply, want) {
			t.Errorf("%s: %s", cmd, reply)
		}
	}
}

func TestDeployChartReusesHelmRepository(t *testing.T) {
	f := fleet(t, "flux", map[string]string{
		"clusters/staging/sources.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: stefanprodan\n  namespace: flux-system\nspec:\n  interval: 1h\n  url: https://stefanprodan.github.io/podinfo/\n",
	})
	handleOn(t, f, podinfo)
	ps := f.Proposals()
	if len(ps) != 1 {
		t.Fatalf("replies %v", f.Replies())
	}
	content := string(ps[0].Files[0].Content)
	if strings.Contains(content, "apiVersion: source.toolkit.fluxcd.io") || !strings.Contains(content, "name: stefanprodan") {
		t.Errorf("the existing HelmRepository was not reused:\n%s", content)
	}
}

func BenchmarkDeployAppThreeEnvironments(b *testing.B) {
	cfg := "provider: flux\nenvironments:\n- {name: dev}\n- {name: staging}\n- {name: production}\n"
	cmd := "/deploy web --image ghcr.io/acme/web:1.4.2 --port 8080 --env dev --env staging --env production --replicas 2 --ingress web.example.com"
	for _, format := range []string{"kustomize", "helm"} {
		b.Run(format, func(b *testing.B) {
			for b.Loop() {
				f := fleet(b, "flux", map[string]string{config.Path: cfg})
				if reply := handleOn(b, f, cmd+" --format "+format); !strings.Contains(reply, "Opened") {
					b.Fatal(reply)
				}
			}
		})
	}
}
