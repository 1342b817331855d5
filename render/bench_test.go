package render_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/gitops-bot/gitops-bot/providers/flux"
	"github.com/gitops-bot/gitops-bot/render"
)

var benchEnvs = []string{"dev", "staging", "prod"}

// fleet is a Flux fleet of n applications in three environments: per
// application a base (kustomization, Deployment, Service), an overlay per
// environment (kustomization, replicas patch) and a Kustomization per
// environment, twelve files.
func fleet(n int) render.Files {
	files := render.Files{}
	for i := 0; i < n; i++ {
		app := fmt.Sprintf("app%03d", i)
		base := "apps/" + app + "/base/"
		files[base+"kustomization.yaml"] = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n  - service.yaml\n"
		files[base+"deployment.yaml"] = fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: %s}\n  template:\n    metadata:\n      labels: {app: %s}\n    spec:\n      containers:\n        - name: %s\n          image: ghcr.io/acme/%s:1.0.0\n          resources:\n            requests: {cpu: 10m, memory: 32Mi}\n", app, app, app, app, app)
		files[base+"service.yaml"] = fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\nspec:\n  selector: {app: %s}\n  ports:\n    - port: 80\n", app, app)
		for _, env := range benchEnvs {
			ov := "apps/" + app + "/overlays/" + env + "/"
			files[ov+"kustomization.yaml"] = fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: %s\nresources:\n  - ../../base\npatches:\n  - path: replicas.yaml\nimages:\n  - name: ghcr.io/acme/%s\n    newTag: 1.0.%d\n", env, app, i%7)
			files[ov+"replicas.yaml"] = fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  replicas: 2\n", app)
			files["clusters/"+env+"/"+app+".yaml"] = fmt.Sprintf("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: %s\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./apps/%s/overlays/%s\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n", app, app, env)
		}
	}
	return files
}

func renderAll(b *testing.B, r *render.Renderer, t *render.Tree) int {
	b.Helper()
	n := 0
	for _, env := range benchEnvs {
		e, err := r.Env(context.Background(), t, render.Spec{Name: env, Dir: "clusters/" + env, Tool: "flux"})
		if err != nil {
			b.Fatal(err)
		}
		if f := e.Failed(); len(f) > 0 {
			b.Fatalf("%s: %v", f[0].Ref, f[0].Err)
		}
		n += len(e.Objects)
	}
	return n
}

// BenchmarkRender renders a 2,000-file fleet's three environments: cold
// (nothing cached), again on a new commit where nothing changed (every
// applier's render reused, checked against the content it read), and on
// the same commit (the environments served whole).
func BenchmarkRender(b *testing.B) {
	files := fleet(benchApps)
	if benchApps == 166 && len(files) < 1990 {
		b.Fatalf("fleet of %d files", len(files))
	}
	ctx := context.Background()
	tools := []render.Tool{flux.Renderer{}}
	b.Run("cold", func(b *testing.B) {
		var objs int
		for i := 0; i < b.N; i++ {
			r := render.New(render.Options{Tools: tools})
			objs = renderAll(b, r, render.NewTree(ctx, files, ""))
		}
		b.ReportMetric(float64(objs), "objects")
		b.ReportMetric(heapMB(func() { renderAll(b, render.New(render.Options{Tools: tools}), render.NewTree(ctx, files, "")) }), "peak-heap-MB")
	})
	b.Run("new-commit-unchanged", func(b *testing.B) {
		r := render.New(render.Options{Tools: tools})
		renderAll(b, r, render.NewTree(ctx, files, ""))
		before := r.Stats()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			renderAll(b, r, render.NewTree(ctx, files, ""))
		}
		after := r.Stats()
		b.ReportMetric(float64(after.Renders-before.Renders)/float64(b.N), "renders/op")
	})
	b.Run("same-commit", func(b *testing.B) {
		r := render.New(render.Options{Tools: tools})
		t := render.NewTree(ctx, files, "commit")
		renderAll(b, r, t)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			renderAll(b, r, t)
		}
	})
}

// heapMB is the most heap fn holds at once, sampled after it returns
// with what it built still reachable, in MB.
func heapMB(fn func()) float64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	peak := after.HeapAlloc
	if after.HeapInuse > peak {
		peak = after.HeapInuse
	}
	return float64(peak-before.HeapAlloc) / (1 << 20)
}

// benchApps: 166 applications make a fleet of 1,992 files.
var benchApps = 166
