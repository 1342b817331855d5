package verbs_test

import (
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot/bottest"
)

func TestPromote(t *testing.T) {
	f := bottest.Fleet(t, "flux", nil)
	bottest.Merged(t, f, web)
	bottest.Merged(t, f, "/set-image web ghcr.io/acme/web:1.5.0 --env staging")
	n := len(f.Proposals())
	bottest.Handle(t, f, "/promote web --from staging --to production")
	prod := "apps/overlays/production/web/kustomization.yaml"
	bottest.OnlyLinesChanged(t, f.Files[prod], bottest.LastChange(t, f, n)[prod], "newTag: 1.4.2", "newTag: 1.5.0")
	if body := f.Proposals()[n].Body; !strings.Contains(body, "image ghcr.io/acme/web: `1.4.2` → `1.5.0`") {
		t.Errorf("body lacks the versions:\n%s", body)
	}
	bottest.Merged(t, f, "/promote web --from staging --to production")
	reply := bottest.Handle(t, f, "/promote web --from staging --to production")
	if !strings.Contains(reply, "nothing to promote") {
		t.Errorf("reply %s", reply)
	}
}

// Images set by a patch count: the builds are compared, not the images:
// entries, and the target overlay gets the source's image.
func TestPromoteComparesTheBuilds(t *testing.T) {
	f := bottest.Fleet(t, "flux", nil)
	bottest.Merged(t, f, web)
	staging := "apps/overlays/staging/web/kustomization.yaml"
	// Staging runs 2.0.0 through a patch, its images: entry says 1.4.2 no more.
	f.Files[staging] = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: web\nresources:\n  - ../../../base/web\n  - namespace.yaml\npatches:\n  - path: image.yaml\n"
	f.Files["apps/overlays/staging/web/image.yaml"] = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: ghcr.io/acme/web:2.0.0\n"
	n := len(f.Proposals())
	reply := bottest.Handle(t, f, "/promote web --from staging --to production")
	prod := "apps/overlays/production/web/kustomization.yaml"
	got := bottest.LastChange(t, f, n)
	bottest.OnlyLinesChanged(t, f.Files[prod], got[prod], "newTag: 1.4.2", "newTag: 2.0.0")
	if !strings.Contains(reply, "Opened") || !strings.Contains(f.Proposals()[n].Body, "image ghcr.io/acme/web: `1.4.2` → `2.0.0`") {
		t.Errorf("reply %s", reply)
	}
}
