package bot

import (
	"context"
	"errors"
	"testing"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/gitops-bot/gitops-bot/render"
)

type countingCharts struct{ loads []string }

func (c *countingCharts) Load(_ context.Context, repoURL, name, _ string) (*chart.Chart, error) {
	c.loads = append(c.loads, repoURL)
	return &chart.Chart{Metadata: &chart.Metadata{Name: name}}, nil
}

func (c *countingCharts) Render(context.Context, string, string, string, string, string, map[string]any) ([]map[string]any, error) {
	return nil, nil
}

// The head fetches charts only from sources the base fetched from; a new
// source is not fetched, and named for the preview's summary.
func TestHeadFetchesOnlyWhatTheBaseFetches(t *testing.T) {
	inner := &countingCharts{}
	g := newGuardedCharts(inner, &chartSources{urls: map[string]bool{}})
	ctx := context.Background()
	if _, err := g.base().Load(ctx, "https://charts.example.com", "web", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.head().Load(ctx, "https://charts.example.com", "web", "1.1.0"); err != nil {
		t.Errorf("a source the base fetches from: %v", err)
	}
	_, err := g.head().Load(ctx, "https://evil.example.com", "web", "1.0.0")
	if !errors.Is(err, render.ErrOffline) {
		t.Errorf("a new source: %v", err)
	}
	if len(inner.loads) != 2 || len(g.refused()) != 1 || g.refused()[0] != "https://evil.example.com" {
		t.Errorf("loads %v, refused %v", inner.loads, g.refused())
	}
}
