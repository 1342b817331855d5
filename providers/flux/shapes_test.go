package flux_test

import (
	"path/filepath"
	"testing"

	"github.com/gitops-bot/gitops-bot/providers/shape/shapetest"
)

// Each Flux shape on its fixtures in testdata/shapes/<shape>.
func TestShapes(t *testing.T) {
	for _, name := range []string{"postbuild-variable", "helmrelease-values", "kustomization-images"} {
		t.Run(name, func(t *testing.T) { shapetest.Run(t, filepath.Join("testdata", "shapes", name), name) })
	}
}
