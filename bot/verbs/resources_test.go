package verbs_test

import (
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot/bottest"
)

// On a Kustomize layout the overlay sets no resources: the Deployment it
// builds from holds them, and the reply says it is shared.
func TestResourcesOnTheBaseDeployment(t *testing.T) {
	f := bottest.Fleet(t, "flux", nil)
	bottest.Merged(t, f, web)
	n := len(f.Proposals())
	reply := bottest.Handle(t, f, "/resources web --memory 512Mi --cpu 250m --env production")
	base := "apps/base/web/deployment.yaml"
	bottest.OnlyLinesChanged(t, f.Files[base], bottest.LastChange(t, f, n)[base],
		"memory: 256Mi", "memory: 512Mi", "cpu: 100m", "cpu: 250m", "memory: 128Mi", "memory: 512Mi")
	if !strings.Contains(reply, "Opened") || !strings.Contains(f.Proposals()[n].Body, "the base every environment builds from") {
		t.Errorf("reply %s\nbody %s", reply, f.Proposals()[n].Body)
	}
}
