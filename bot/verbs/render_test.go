package verbs_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gitops-bot/gitops-bot/bot"
	"github.com/gitops-bot/gitops-bot/bot/bottest"
	"github.com/gitops-bot/gitops-bot/providers/chartrender"
	"github.com/gitops-bot/gitops-bot/providers/chartrender/chartrendertest"
)

const chartDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ .Release.Name }}}
spec:
  replicas: {{ .Values.replicaCount }}
  template:
    spec:
      containers:
        - name: app
          image: "{{ .Values.IMAGE.repository }}:{{ .Values.IMAGE.tag }}"
`

// A release's values are judged by what its chart renders, when the bot
// can fetch the chart: a chart that reads its image under another key gets
// the change under that key, found by rendering, never a pull request that
// changes nothing.
func TestChartsAreRendered(t *testing.T) {
	reads := func(key string) string { return strings.ReplaceAll(chartDeployment, "IMAGE", key) }
	repo := chartrendertest.Serve(t,
		chartrendertest.Chart("standard", "1.0.0", "replicaCount: 1\nimage: {repository: ghcr.io/acme/web, tag: '1.0'}\n", map[string]string{"d.yaml": reads("image")}),
		chartrendertest.Chart("odd", "1.0.0", "replicaCount: 1\napp: {repository: ghcr.io/acme/web, tag: '1.0'}\n", map[string]string{"d.yaml": reads("app")}))
	release := func(chart string) string {
		return `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: acme, namespace: flux-system}
spec: {interval: 1h, url: ` + repo.URL() + `}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: flux-system}
spec:
  interval: 5m
  chart:
    spec: {chart: ` + chart + `, version: 1.0.0, sourceRef: {kind: HelmRepository, name: acme}}
  values:
    replicaCount: 2
`
	}
	b := bot.New(bottest.Quiet)
	b.Charts = chartrender.New(repo.Client(), 5*time.Second)

	f := bottest.Fleet(t, "flux", map[string]string{"clusters/staging/web.yaml": release("standard")})
	reply := bottest.HandleEvent(t, b, f, bottest.Comment(1, "alice", "/set-image web ghcr.io/acme/web:2.0 --env staging"))
	if len(f.Proposals()) != 1 || !strings.Contains(f.Proposals()[0].Body, "Checked by rendering the chart `standard` `1.0.0`") {
		t.Fatalf("reply %s", reply)
	}

	f = bottest.Fleet(t, "flux", map[string]string{"clusters/staging/web.yaml": release("odd")})
	reply = bottest.HandleEvent(t, b, f, bottest.Comment(1, "alice", "/set-image web ghcr.io/acme/web:2.0 --env staging"))
	if len(f.Proposals()) != 1 {
		t.Fatalf("reply %s", reply)
	}
	file := "clusters/staging/web.yaml"
	bottest.OnlyLinesChanged(t, f.Files[file], bottest.LastChange(t, f, 0)[file], "    replicaCount: 2\n", "    replicaCount: 2\n    app:\n      tag: \"2.0\"\n")
	reply = bottest.HandleEvent(t, b, f, bottest.Comment(2, "alice", "/scale web 3 --env staging"))
	if len(f.Proposals()) != 2 {
		t.Errorf("scale: %s", reply)
	}

	// Without a renderer the pull request says the chart was not rendered.
	f = bottest.Fleet(t, "flux", map[string]string{"clusters/staging/web.yaml": release("odd")})
	bottest.Handle(t, f, "/set-image web ghcr.io/acme/web:2.0 --env staging")
	if ps := f.Proposals(); len(ps) != 1 || !strings.Contains(ps[0].Body, "The chart was not rendered (the bot renders no charts)") {
		t.Errorf("proposals %+v", ps)
	}
}
