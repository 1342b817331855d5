package verbs_test

import (
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot/bottest"
	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/examples"
)

func TestDeployAppGolden(t *testing.T) {
	for _, c := range []struct{ name, fleet, args string }{
		{"flux-kustomize", "flux", ""},
		{"flux-helm", "flux", " --format helm"},
		{"argocd-kustomize", "argocd", ""},
		{"argocd-helm", "argocd", " --format helm"},
		{"argocd-kustomize-one-env", "argocd", " --env staging"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := bottest.Fleet(t, c.fleet, nil)
			cmd := web + c.args
			if strings.Contains(c.args, "--env staging") {
				cmd = "/deploy web --image ghcr.io/acme/web:1.4.2 --port 8080" + c.args
			}
			reply := bottest.Handle(t, f, cmd)
			if !strings.Contains(reply, "Opened #100") {
				t.Fatalf("reply = %s", reply)
			}
			bottest.Golden(t, c.name, f)
		})
	}
}

func TestDeployAppReusesGitRepositoryAndListsInParentKustomization(t *testing.T) {
	f := bottest.Fleet(t, "flux", map[string]string{
		"clusters/staging/kustomization.yaml": "# what Flux applies in staging\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - flux-system/gotk-sync.yaml # keep\n",
	})
	bottest.Handle(t, f, "/deploy web --image ghcr.io/acme/web:1.4.2 --port 8080 --env staging")
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
			f := bottest.Fleet(t, "flux", nil)
			reply := bottest.Handle(t, f, c.cmd)
			if len(f.Proposals()) != 0 || !strings.Contains(reply, c.want) {
				t.Errorf("proposals %d, reply:\n%s", len(f.Proposals()), reply)
			}
		})
	}
}

func TestDeployAppAlreadyThere(t *testing.T) {
	f := bottest.Fleet(t, "flux", map[string]string{"apps/base/web/deployment.yaml": "kind: Deployment\n"})
	reply := bottest.Handle(t, f, "/deploy web --image ghcr.io/acme/web:1.4.2 --port 8080 --env staging")
	if len(f.Proposals()) != 0 || !strings.Contains(reply, "already deployed here (`apps/base/web` exists)") || !strings.Contains(reply, "/set-image web") {
		t.Errorf("reply = %s", reply)
	}
}

func TestDeployAppBrokenRepositoryKustomization(t *testing.T) {
	f := bottest.Fleet(t, "flux", map[string]string{
		"clusters/staging/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - flux-system/gotk-sync.yaml\n  - missing.yaml\n",
	})
	reply := bottest.Handle(t, f, "/deploy web --image ghcr.io/acme/web:1.4.2 --port 8080 --env staging")
	if len(f.Proposals()) != 0 || !strings.Contains(reply, "does not pass the checks") || !strings.Contains(reply, "clusters/staging/kustomization.yaml: kustomize build failed") || !strings.Contains(reply, "missing.yaml") {
		t.Errorf("reply = %s", reply)
	}
}

func BenchmarkDeployAppThreeEnvironments(b *testing.B) {
	cfg := "provider: flux\nenvironments:\n- {name: dev}\n- {name: staging}\n- {name: production}\n"
	cmd := "/deploy web --image ghcr.io/acme/web:1.4.2 --port 8080 --env dev --env staging --env production --replicas 2 --ingress web.example.com"
	for _, format := range []string{"kustomize", "helm"} {
		b.Run(format, func(b *testing.B) {
			for b.Loop() {
				f := bottest.Fleet(b, "flux", map[string]string{config.Path: cfg})
				if reply := bottest.Handle(b, f, cmd+" --format "+format); !strings.Contains(reply, "Opened") {
					b.Fatal(reply)
				}
			}
		})
	}
}

// An ApplicationSet of the repository that generates an Application from
// every overlay: the new overlay is enough, a second Application would own
// the same workload.
func TestDeployAppLeavesItToTheApplicationSet(t *testing.T) {
	set := "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: overlays, namespace: argocd}\nspec:\n  generators:\n    - git:\n        repoURL: " + examples.URL + "\n        revision: HEAD\n        directories:\n          - path: apps/overlays/*/*\n  template:\n    metadata: {name: '{{path.basename}}-{{path[2]}}'}\n    spec:\n      project: default\n      source: {repoURL: " + examples.URL + ", targetRevision: HEAD, path: '{{path}}'}\n      destination: {server: https://kubernetes.default.svc, namespace: '{{path.basename}}'}\n"
	f := bottest.Fleet(t, "argocd", map[string]string{"clusters/staging/overlays-appset.yaml": set})
	reply := bottest.Handle(t, f, "/deploy web --image ghcr.io/acme/web:1.4.2 --port 8080 --env staging")
	got := bottest.LastChange(t, f, 0)
	for p := range got {
		if strings.HasPrefix(p, "clusters/") {
			t.Errorf("an Application beside the ApplicationSet: %s\n%s", p, got[p])
		}
	}
	if _, ok := got["apps/overlays/staging/web/kustomization.yaml"]; !ok {
		t.Errorf("no overlay; reply %s", reply)
	}
	if body := f.Proposals()[0].Body; !strings.Contains(body, "The ApplicationSet `overlays` (`clusters/staging/overlays-appset.yaml`) generates the Application of `staging`") {
		t.Errorf("body:\n%s", body)
	}
}

// Two Argo CD environments on one cluster (the example fleet's both use
// the in-cluster destination) run the application in namespaces of their
// own; on Flux, where each environment is its own cluster, one namespace.
func TestEnvironmentsOnOneClusterGetTheirOwnNamespace(t *testing.T) {
	for _, c := range []struct {
		fleet, cmd string
		want       map[string]string // file: the namespace it must name
	}{
		{"argocd", web, map[string]string{
			"apps/overlays/staging/web/kustomization.yaml":    "namespace: web-staging\n",
			"apps/overlays/production/web/kustomization.yaml": "namespace: web-production\n",
		}},
		{"argocd", "/deploy podinfo --chart https://stefanprodan.github.io/podinfo/podinfo --version 6.7.0 --env staging --env production", map[string]string{
			"clusters/staging/podinfo.yaml":    "namespace: podinfo-staging\n",
			"clusters/production/podinfo.yaml": "namespace: podinfo-production\n",
		}},
		{"flux", web, map[string]string{
			"apps/overlays/staging/web/kustomization.yaml":    "namespace: web\n",
			"apps/overlays/production/web/kustomization.yaml": "namespace: web\n",
		}},
	} {
		f := bottest.Fleet(t, c.fleet, nil)
		reply := bottest.Handle(t, f, c.cmd)
		files := bottest.LastChange(t, f, 0)
		for path, want := range c.want {
			if !strings.Contains(files[path], want) {
				t.Errorf("%s %s: %s lacks %q:\n%s\n%s", c.fleet, c.cmd, path, want, files[path], reply)
			}
		}
	}
}
