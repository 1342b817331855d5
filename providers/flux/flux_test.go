package flux

import (
	"testing"

	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/providertest"
)

var staging = providers.Environment{Name: "staging", Dir: "clusters/staging", Namespace: "flux-system"}

func TestGenerateChart(t *testing.T) {
	cases := map[string]providers.ChartRequest{
		"helmrepository": {
			App: "podinfo", Namespace: "podinfo", Env: staging,
			Chart:  providers.Chart{RepoURL: "https://stefanprodan.github.io/podinfo", Name: "podinfo", Version: "6.7.0"},
			Values: map[string]any{"replicaCount": int64(2), "ui": map[string]any{"message": "hello"}},
		},
		"ocirepository-tag": {
			App: "podinfo", Namespace: "apps", Env: staging,
			Chart: providers.Chart{RepoURL: "oci://ghcr.io/stefanprodan/charts", Name: "podinfo", Version: "6.7.0"},
		},
		"ocirepository-range": {
			App: "podinfo", Namespace: "apps", Env: staging,
			Chart: providers.Chart{RepoURL: "oci://ghcr.io/stefanprodan/charts", Name: "podinfo", Version: ">=6.0.0 <7.0.0"},
		},
	}
	for name, req := range cases {
		t.Run(name, func(t *testing.T) {
			ms, err := Provider{}.GenerateChart(req)
			if err != nil {
				t.Fatal(err)
			}
			providertest.Golden(t, name, ms)
		})
	}
}
