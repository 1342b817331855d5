package providers

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestRuns(t *testing.T) {
	for _, c := range []struct {
		obj  map[string]any
		want string
	}{
		{map[string]any{"kind": "Application", "status": map[string]any{"summary": map[string]any{"images": []any{"nginx:latest", "ghcr.io/acme/frontend:1.4.3"}}}},
			"[nginx:latest ghcr.io/acme/frontend:1.4.3]"},
		{map[string]any{"kind": "HelmRelease", "status": map[string]any{"history": []any{
			map[string]any{"chartName": "podinfo", "chartVersion": "6.7.1"}, map[string]any{"chartName": "podinfo", "chartVersion": "6.7.0"}}}},
			"[chart podinfo 6.7.1]"},
		{map[string]any{"kind": "HelmRelease", "status": map[string]any{"lastAppliedRevision": "6.3.5"}}, "[chart version 6.3.5]"},
		{map[string]any{"kind": "HelmRelease"}, "[]"},
		{map[string]any{"kind": "Kustomization", "status": map[string]any{"lastAppliedRevision": "main@sha1:abc"}}, "[]"},
	} {
		if got := fmt.Sprint(Runs(&unstructured.Unstructured{Object: c.obj})); got != c.want {
			t.Errorf("%v: %s, want %s", c.obj, got, c.want)
		}
	}
}
