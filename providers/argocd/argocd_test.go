package argocd

import (
	"testing"

	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/providertest"
)

func TestGenerateChart(t *testing.T) {
	cases := map[string]providers.ChartRequest{
		"helm": {
			App: "podinfo", Namespace: "podinfo",
			Env:    providers.Environment{Name: "staging", Dir: "clusters/staging", Namespace: "argocd", Project: "default"},
			Chart:  providers.Chart{RepoURL: "https://stefanprodan.github.io/podinfo", Name: "podinfo", Version: "6.7.0"},
			Values: map[string]any{"replicaCount": int64(2)},
		},
		"oci-named-destination": {
			App: "podinfo", Namespace: "web",
			Env:   providers.Environment{Name: "production", Dir: "envs/prod", Namespace: "gitops", Project: "web", DestinationName: "prod-eu"},
			Chart: providers.Chart{RepoURL: "oci://ghcr.io/stefanprodan/charts", Name: "podinfo", Version: "6.x"},
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
