package render

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
)

// ChartDir is a directory of unpacked charts, one per name, served for
// any repository and version: a chart cache kept beside tests, or charts
// mirrored for a machine with no way out. Dependencies come from the same
// directory.
type ChartDir string

// Load loads chart name from the directory.
func (d ChartDir) Load(ctx context.Context, repoURL, name, version string) (*chart.Chart, error) {
	return d.load(name, 0)
}

func (d ChartDir) load(name string, depth int) (*chart.Chart, error) {
	if depth > 5 {
		return nil, fmt.Errorf("chart %s: dependencies nested too deep", name)
	}
	dir := filepath.Join(string(d), filepath.Base(name))
	if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err != nil {
		return nil, fmt.Errorf("no chart %s in the chart directory", name)
	}
	ch, err := loader.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, c := range ch.Dependencies() {
		have[c.Name()] = true
	}
	for _, dep := range ch.Metadata.Dependencies {
		if have[dep.Name] {
			continue
		}
		sub, err := d.load(dep.Name, depth+1)
		if err != nil {
			return nil, fmt.Errorf("chart %s: dependency: %w", name, err)
		}
		ch.AddDependency(sub)
	}
	return ch, nil
}

// Render renders chart name with values, for the checks that render a
// release's chart themselves.
func (d ChartDir) Render(ctx context.Context, repoURL, name, version, release, namespace string, values map[string]any) ([]map[string]any, error) {
	ch, err := d.Load(ctx, repoURL, name, version)
	if err != nil {
		return nil, err
	}
	objs, err := RenderChart(ch, Release{Name: release, Namespace: namespace, Values: values})
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.Obj)
	}
	return out, nil
}
