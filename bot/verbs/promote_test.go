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
