package verbs_test

import (
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot/bottest"
)

func TestScale(t *testing.T) {
	t.Run("kustomize overlay", func(t *testing.T) {
		f := bottest.Fleet(t, "flux", nil)
		bottest.Merged(t, f, web)
		prod := "apps/overlays/production/web/kustomization.yaml"
		n := len(f.Proposals())
		bottest.Handle(t, f, "/scale web 4 --env production")
		bottest.OnlyLinesChanged(t, f.Files[prod], bottest.LastChange(t, f, n)[prod], "count: 2", "count: 4")
	})
	t.Run("HelmRelease values", func(t *testing.T) {
		f := bottest.Fleet(t, "flux", nil)
		bottest.Merged(t, f, podinfo)
		file := "clusters/staging/podinfo.yaml"
		n := len(f.Proposals())
		bottest.Handle(t, f, "/scale podinfo 3 --env staging")
		bottest.OnlyLinesChanged(t, f.Files[file], bottest.LastChange(t, f, n)[file], "replicaCount: 2", "replicaCount: 3")
	})
	t.Run("Argo CD Application valuesObject", func(t *testing.T) {
		f := bottest.NewFake(argoFleet(t))
		file := "clusters/staging/podinfo.yaml"
		n := len(f.Proposals())
		bottest.Handle(t, f, "/scale podinfo 5 --env staging")
		bottest.OnlyLinesChanged(t, f.Files[file], bottest.LastChange(t, f, n)[file], "replicaCount: 2", "replicaCount: 5")
	})
}

// An Argo CD Application's kustomize overrides win over its overlay: the
// image and replicas it overrides are changed there.
func TestArgoKustomizeOverrides(t *testing.T) {
	f := bottest.Fleet(t, "argocd", nil)
	bottest.Merged(t, f, "/deploy web --image ghcr.io/acme/web:1.4.2 --port 8080 --env staging")
	app := "clusters/staging/web.yaml"
	if !strings.Contains(f.Files[app], "path: apps/overlays/staging/web") {
		t.Fatalf("fixture:\n%s", f.Files[app])
	}
	f.Files[app] = strings.Replace(f.Files[app], "    path: apps/overlays/staging/web\n", "    path: apps/overlays/staging/web\n    kustomize:\n      images:\n        - ghcr.io/acme/web:1.4.2 # pinned by hand\n      replicas:\n        - name: web\n          count: 2\n", 1)
	n := len(f.Proposals())
	reply := bottest.Handle(t, f, "/set-image web ghcr.io/acme/web:1.5.0 --env staging")
	bottest.OnlyLinesChanged(t, f.Files[app], bottest.LastChange(t, f, n)[app], "- ghcr.io/acme/web:1.4.2 #", "- ghcr.io/acme/web:1.5.0 #")
	if !strings.Contains(f.Proposals()[n].Body, "which Argo CD applies over its source") {
		t.Errorf("reply %s", reply)
	}
	n = len(f.Proposals())
	bottest.Handle(t, f, "/scale web 5 --env staging")
	bottest.OnlyLinesChanged(t, f.Files[app], bottest.LastChange(t, f, n)[app], "count: 2", "count: 5")
}

// Argo CD's parameter override file in the app's directory (as
// argocd-image-updater writes it) wins over the Application.
func TestArgoSourceOverrideFile(t *testing.T) {
	f := bottest.Fleet(t, "argocd", nil)
	bottest.Merged(t, f, "/deploy web --image ghcr.io/acme/web:1.4.2 --port 8080 --env staging")
	override := "apps/overlays/staging/web/.argocd-source-web-staging.yaml"
	f.Files[override] = "kustomize:\n  images:\n  - ghcr.io/acme/web:1.4.2\n"
	n := len(f.Proposals())
	bottest.Handle(t, f, "/set-image web ghcr.io/acme/web:1.6.0 --env staging")
	got := bottest.LastChange(t, f, n)
	if len(got) != 1 {
		t.Fatalf("files %v", keys(got))
	}
	bottest.OnlyLinesChanged(t, f.Files[override], got[override], "ghcr.io/acme/web:1.4.2", "ghcr.io/acme/web:1.6.0")
}
