package verbs_test

import (
	"testing"

	"github.com/gitops-bot/gitops-bot/bot/bottest"
)

func TestScale(t *testing.T) {
	t.Run("kustomize overlay", func(t *testing.T) {
		f := bottest.Fleet(t, "flux", nil)
		bottest.Merged(t, f, web)
		prod := "apps/overlays/production/web/kustomization.yaml"
		n := len(f.Proposals())
		bottest.Handle(t, f, "/scale web 4 --env production")
		bottest.OnlyLinesChanged(t, f.Files[prod], bottest.LastChange(t, f, n)[prod], "count: 2", "count: 4")
	})
	t.Run("HelmRelease values", func(t *testing.T) {
		f := bottest.Fleet(t, "flux", nil)
		bottest.Merged(t, f, podinfo)
		file := "clusters/staging/podinfo.yaml"
		n := len(f.Proposals())
		bottest.Handle(t, f, "/scale podinfo 3 --env staging")
		bottest.OnlyLinesChanged(t, f.Files[file], bottest.LastChange(t, f, n)[file], "replicaCount: 2", "replicaCount: 3")
	})
	t.Run("Argo CD Application valuesObject", func(t *testing.T) {
		f := bottest.NewFake(argoFleet(t))
		file := "clusters/staging/podinfo.yaml"
		n := len(f.Proposals())
		bottest.Handle(t, f, "/scale podinfo 5 --env staging")
		bottest.OnlyLinesChanged(t, f.Files[file], bottest.LastChange(t, f, n)[file], "replicaCount: 2", "replicaCount: 5")
	})
}
