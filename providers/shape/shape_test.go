package shape_test

import (
	"path/filepath"
	"testing"

	"github.com/gitops-bot/gitops-bot/providers/shape/shapetest"
)

// Each shape of this package on its fixtures in testdata/<shape>.
func TestShapes(t *testing.T) {
	for _, name := range []string{"workload", "kustomize-images", "kustomize-replicas", "new-patch", "json6902", "values-file", "helmcharts-values"} {
		t.Run(name, func(t *testing.T) { shapetest.Run(t, filepath.Join("testdata", name), name) })
	}
}
