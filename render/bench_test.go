package render_test

import (
	"context"
	"testing"

	"github.com/gitops-bot/gitops-bot/providers/flux"
	"github.com/gitops-bot/gitops-bot/render"
	"github.com/gitops-bot/gitops-bot/render/rendertest"
)

var benchEnvs = rendertest.Envs

// fleet is rendertest's fleet of n applications.
func fleet(n int) render.Files { return render.Files(rendertest.Fleet(n)) }

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
		b.ReportMetric(rendertest.HeapMB(func() { renderAll(b, render.New(render.Options{Tools: tools}), render.NewTree(ctx, files, "")) }), "peak-heap-MB")
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

// benchApps: 166 applications make a fleet of 1,992 files.
var benchApps = rendertest.Apps
