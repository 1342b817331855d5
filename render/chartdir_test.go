package render_test

import (
	"context"
	"testing"

	"github.com/gitops-bot/gitops-bot/render"
)

// An umbrella of a library chart renders from the chart directory, its
// dependency from the same directory, with no network.
func TestChartDirRendersAppTemplate(t *testing.T) {
	ch, err := render.ChartDir("../testdata/charts").Load(context.Background(), "", "app-template", "5.1.0")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := render.RenderChart(ch, render.Release{Name: "atuin", Namespace: "default", Values: map[string]any{
		"controllers": map[string]any{"atuin": map[string]any{"containers": map[string]any{"app": map[string]any{"image": map[string]any{"repository": "ghcr.io/atuinsh/atuin", "tag": "18.0"}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	var images []any
	for _, o := range objs {
		if o.Kind() == "Deployment" {
			spec := o.Obj["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
			for _, c := range spec["containers"].([]any) {
				images = append(images, c.(map[string]any)["image"])
			}
		}
	}
	if len(images) != 1 || images[0] != "ghcr.io/atuinsh/atuin:18.0" {
		t.Fatalf("images %v", images)
	}
}
