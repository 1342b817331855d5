package workload_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/snapshot"
	"github.com/gitops-bot/gitops-bot/bot/workload"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/forgetest"
)

var envs = []string{"dev", "staging", "prod"}

// fleet is the 2,000-file fleet of render's benchmark: 166 applications,
// a base and an overlay per environment each, a Kustomization per
// environment.
func fleet() map[string]string {
	files := map[string]string{}
	for i := 0; i < 166; i++ {
		app := fmt.Sprintf("app%03d", i)
		base := "apps/" + app + "/base/"
		files[base+"kustomization.yaml"] = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n  - service.yaml\n"
		files[base+"deployment.yaml"] = fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: %s}\n  template:\n    metadata:\n      labels: {app: %s}\n    spec:\n      containers:\n        - name: %s\n          image: ghcr.io/acme/%s:1.0.0\n", app, app, app, app, app)
		files[base+"service.yaml"] = fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\nspec:\n  selector: {app: %s}\n  ports:\n    - port: 80\n", app, app)
		for _, env := range envs {
			ov := "apps/" + app + "/overlays/" + env + "/"
			files[ov+"kustomization.yaml"] = fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: %s\nresources:\n  - ../../base\npatches:\n  - path: replicas.yaml\n", env)
			files[ov+"replicas.yaml"] = fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  replicas: 2\n", app)
			files["clusters/"+env+"/"+app+".yaml"] = fmt.Sprintf("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: %s\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./apps/%s/overlays/%s\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n", app, app, env)
		}
	}
	files[".gitops-bot.yaml"] = "provider: flux\nenvironments:\n- {name: dev, dir: clusters/dev}\n- {name: staging, dir: clusters/staging}\n- {name: prod, dir: clusters/prod}\n"
	return files
}

// BenchmarkScale is a day-2 command on the 2,000-file fleet: /scale of
// one application in one environment, as a new command each time, after
// the bot rendered the commit once (the renders of appliers are kept
// across commands). It reports the environments rendered, the appliers
// rendered again and the files parsed for the edit.
func BenchmarkScale(b *testing.B) {
	ctx := context.Background()
	f := forgetest.New(fleet())
	cfg, err := config.Parse([]byte(fleet()[".gitops-bot.yaml"]))
	if err != nil {
		b.Fatal(err)
	}
	env, _ := cfg.Environment("staging")
	repo := func() *workload.Repo {
		return &workload.Repo{Files: snapshot.New(f, forge.Repo{}, "main"), Config: cfg}
	}
	if _, err := repo().Scale(ctx, "app042", env, 3); err != nil { // the first command renders the commit
		b.Fatal(err)
	}
	var w *workload.Repo
	var before workload.RenderStats
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w = repo()
		before = workload.Renders()
		c, err := w.Scale(ctx, "app042", env, 3+i%5)
		if err != nil || len(c.Manifests) != 1 {
			b.Fatalf("%v %v", err, c.Manifests)
		}
	}
	m, err := w.Model(ctx)
	if err != nil {
		b.Fatal(err)
	}
	after := workload.Renders()
	b.ReportMetric(float64(m.Renders), "env-renders/op")
	b.ReportMetric(float64(after.Renders-before.Renders), "applier-renders/op")
	b.ReportMetric(float64(m.Parsed()), "files-parsed/op")
}
