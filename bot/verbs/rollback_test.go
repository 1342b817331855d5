package verbs_test

import (
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot/bottest"
	"github.com/gitops-bot/gitops-bot/forge"
)

func TestRollback(t *testing.T) {
	f := bottest.Fleet(t, "flux", nil)
	bottest.Merged(t, f, web)
	before := f.Snapshot()
	bottest.Merged(t, f, "/set-image web ghcr.io/acme/web:1.5.0 --env staging")
	overlay := "apps/overlays/staging/web/kustomization.yaml"
	f.MergedAs(101, before, f.Proposals()[len(f.Proposals())-1].Body, overlay)
	f.Pulls[102] = forge.PullInfo{Number: 102}

	n := len(f.Proposals())
	bottest.Handle(t, f, "/rollback 101")
	got := bottest.LastChange(t, f, n)
	if got[overlay] != before[overlay] {
		t.Errorf("rollback content:\n%s\nwant:\n%s", got[overlay], before[overlay])
	}
	if p := f.Proposals()[n]; p.Branch != "gitops-bot/rollback-101-staging" || !strings.Contains(p.Title, "Roll back #101") {
		t.Errorf("proposal %s %q", p.Branch, p.Title)
	}

	// A later change to the same file: no revert that would undo it.
	f.Files[overlay] = strings.Replace(f.Files[overlay], "1.5.0", "1.6.0", 1)
	n = len(f.Proposals())
	reply := bottest.Handle(t, f, "/rollback 101")
	if len(f.Proposals()) != n || !strings.Contains(reply, "changed after its merge") || !strings.Contains(reply, overlay) {
		t.Errorf("reply:\n%s", reply)
	}
	for cmd, want := range map[string]string{"/rollback 102": "is not merged", "/rollback 7x": "not a pull request number", "/rollback": "say which pull request", "/rollback 999": "no pull request #999"} {
		if reply := bottest.Handle(t, f, cmd); !strings.Contains(reply, want) {
			t.Errorf("%s: %s", cmd, reply)
		}
	}
}
