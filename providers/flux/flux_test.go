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

// Where Flux fetches a repository from: the GitRepository its
// Kustomizations take as their source, as flux bootstrap writes it; a
// GitRepository of another repository that nothing here syncs from is not.
func TestSyncedFrom(t *testing.T) {
	files := map[string][]byte{
		"clusters/staging/flux-system/gotk-sync.yaml": []byte(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: flux-system}
spec: {interval: 1m0s, ref: {branch: main}, url: ssh://git@github.com/acme/fleet}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: flux-system, namespace: flux-system}
spec: {interval: 10m0s, path: ./clusters/staging, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}
`),
		"clusters/staging/other.yaml": []byte(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: charts, namespace: flux-system}
spec: {interval: 1h, url: https://github.com/acme/charts}
`),
		"broken.yaml": []byte("kind: [\n"),
	}
	if got := SyncedFrom(files); len(got) != 1 || got[0] != "ssh://git@github.com/acme/fleet" {
		t.Errorf("SyncedFrom = %v", got)
	}
	delete(files, "clusters/staging/flux-system/gotk-sync.yaml")
	if got := SyncedFrom(files); len(got) != 0 {
		t.Errorf("without a Kustomization: %v", got)
	}
}
