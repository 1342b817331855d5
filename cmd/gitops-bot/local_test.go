package main

import (
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/examples"
	"github.com/gitops-bot/gitops-bot/forge/local"
)

// A repository on disk with no origin remote takes the URL its Flux
// GitRepository syncs it from, and says so; one with none says how to add
// the remote, and the command that needs the URL says why it refuses.
func TestLocalWithoutOrigin(t *testing.T) {
	fluxDir, argoDir := t.TempDir(), t.TempDir()
	for dir, name := range map[string]string{fluxDir: "flux", argoDir: "argocd"} {
		src, err := examples.Fleet(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := local.Init(dir, src, ""); err != nil {
			t.Fatal(err)
		}
	}
	deploy := "/deploy web --image ghcr.io/acme/web:1.0.0 --port 8080 --env staging"
	out := run(t, "local", "--repo", fluxDir, deploy)
	if !strings.Contains(out, fluxDir+" has no origin remote: using "+examples.URL+", the URL its Flux GitRepository syncs it from") ||
		!strings.Contains(out, "Opened branch `gitops-bot/deploy-web-staging`") {
		t.Errorf("flux fleet without origin:\n%s", out)
	}
	// The bootstrap's GitRepository is this repository: reused, not a second one.
	if diff := out[strings.Index(out, "=== Diff ==="):]; strings.Contains(diff, "+kind: GitRepository") {
		t.Errorf("a GitRepository of the repository was added beside flux-system:\n%s", diff)
	}

	out, err := execute("local", "--repo", argoDir, deploy)
	if err == nil || !strings.Contains(out, "no Flux GitRepository here syncs it") || !strings.Contains(out, "git -C "+argoDir+" remote add origin URL") ||
		!strings.Contains(out, "no clone URL for Argo CD or Flux to fetch it from") {
		t.Errorf("argocd fleet without origin (%v):\n%s", err, out)
	}
}
