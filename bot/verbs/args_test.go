package verbs_test

import (
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot/bottest"
)

func TestDay2Rejects(t *testing.T) {
	both := "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web}\nspec: {interval: 5m, chartRef: {kind: OCIRepository, name: web}}\n---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web}\nspec: {project: default, source: {repoURL: x, chart: web, targetRevision: 1.0.0}, destination: {namespace: web}}\n"
	for _, c := range []struct{ name, files, cmd, want string }{
		{"not found", "", "/scale nope 2 --env staging", "no workload `nope` in environment `staging`"},
		{"both", both, "/scale web 2 --env staging", "managed by both Argo CD and Flux"},
		{"bad image", "", "/set-image web nginx --env staging", "pin a tag"},
		{"bad quantity", "", "/resources web --memory lots --env staging", "not a positive quantity"},
		{"no quantity", "", "/resources web --env staging", "give --cpu, --memory or both"},
		{"no env", "", "/scale web 2", "--env is required"},
		{"bad replicas", "", "/scale web many --env staging", "want a number"},
		{"promote same", "", "/promote web --from staging --to staging", "must differ"},
	} {
		t.Run(c.name, func(t *testing.T) {
			extra := map[string]string{}
			if c.files != "" {
				extra["clusters/staging/web.yaml"] = c.files
			}
			f := bottest.Fleet(t, "flux", extra)
			reply := bottest.Handle(t, f, c.cmd)
			if len(f.Proposals()) != 0 || !strings.Contains(reply, c.want) {
				t.Errorf("proposals %d; reply:\n%s", len(f.Proposals()), reply)
			}
		})
	}
}
