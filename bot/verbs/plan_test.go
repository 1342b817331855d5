package verbs_test

import (
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot/bottest"
)

func TestPlanShowsDiffAndOpensNothing(t *testing.T) {
	f := bottest.Fleet(t, "flux", nil)
	reply := bottest.Handle(t, f, "/plan "+strings.TrimPrefix(web, "/"))
	if len(f.Proposals()) != 0 || len(f.PullRequests()) != 0 {
		t.Fatal("/plan opened something")
	}
	for _, want := range []string{"Plan for", "Nothing was opened", "```diff", "--- /dev/null", "+++ b/apps/base/web/deployment.yaml", "+  replicas: 1", "| `production` | Kustomization |"} {
		if !strings.Contains(reply, want) {
			t.Errorf("plan lacks %q:\n%s", want, reply)
		}
	}
	reply = bottest.Handle(t, f, "/plan /deploy podinfo --chart https://stefanprodan.github.io/podinfo/podinfo --version 6.7.0 --env staging")
	if !strings.Contains(reply, "+kind: HelmRelease") || len(f.Proposals()) != 0 {
		t.Errorf("plan of a chart:\n%s", reply)
	}
	for cmd, want := range map[string]string{"/plan": "missing the command", "/plan /help": "does not change files", "/plan /nope": "does not change files"} {
		if reply := bottest.Handle(t, f, cmd); !strings.Contains(reply, want) {
			t.Errorf("%s: %s", cmd, reply)
		}
	}
}

func TestPlanOfDay2(t *testing.T) {
	f := bottest.Fleet(t, "flux", nil)
	bottest.Merged(t, f, web)
	n := len(f.Proposals())
	reply := bottest.Handle(t, f, "/plan /scale web 3 --env staging")
	if len(f.Proposals()) != n || !strings.Contains(reply, "-- count: 2") || !strings.Contains(reply, "+- count: 3") {
		t.Errorf("plan:\n%s", reply)
	}
}
