package workload_test

import (
	"context"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/snapshot"
	"github.com/gitops-bot/gitops-bot/bot/workload"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/render/rendertest"
)

var envs = rendertest.Envs

// fleet is the 2,000-file fleet of render's benchmark.
func fleet() map[string]string { return rendertest.Fleet(rendertest.Apps) }

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
