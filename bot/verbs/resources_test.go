package verbs_test

import (
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot/bottest"
)

// On a Kustomize layout the Deployment is the base every environment builds
// from: /resources for one environment writes a patch in that environment's
// overlay (listed in its kustomization, one line added), leaves the base and
// the other environments alone, and a second /resources edits that patch.
func TestResourcesPatchTheEnvironmentsOverlay(t *testing.T) {
	f := bottest.Fleet(t, "flux", nil)
	bottest.Merged(t, f, web)
	base := "apps/base/web/deployment.yaml"
	kust := "apps/overlays/production/web/kustomization.yaml"
	patch := "apps/overlays/production/web/web-resources.yaml"
	n := len(f.Proposals())
	reply := bottest.Handle(t, f, "/resources web --memory 512Mi --cpu 250m --env production")
	got := bottest.LastChange(t, f, n)
	if _, touched := got[base]; touched || len(got) != 2 {
		t.Fatalf("files %v; reply %s", keys(got), reply)
	}
	if !strings.HasSuffix(got[kust], "patches:\n  - path: web-resources.yaml\n") || !strings.HasPrefix(got[kust], f.Files[kust]) {
		t.Errorf("kustomization:\n%s", got[kust])
	}
	for _, want := range []string{"name: web", "cpu: 250m", "memory: 512Mi"} {
		if !strings.Contains(got[patch], want) {
			t.Errorf("patch lacks %q:\n%s", want, got[patch])
		}
	}
	if !strings.Contains(reply, "Opened") || !strings.Contains(f.Proposals()[n].Body, "a base other environments build from too") {
		t.Errorf("reply %s", reply)
	}
	bottest.Merged(t, f, "/resources web --memory 512Mi --cpu 250m --env production")
	n = len(f.Proposals())
	bottest.Handle(t, f, "/resources web --memory 1Gi --env production")
	bottest.OnlyLinesChanged(t, f.Files[patch], bottest.LastChange(t, f, n)[patch], "memory: 512Mi", "memory: 1Gi", "memory: 512Mi", "memory: 1Gi")
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
