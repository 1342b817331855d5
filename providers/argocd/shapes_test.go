package argocd_test

import (
	"path/filepath"
	"testing"

	"github.com/gitops-bot/gitops-bot/providers/shape/shapetest"
)

// Each Argo CD shape on its fixtures in testdata/shapes/<shape>.
func TestShapes(t *testing.T) {
	for _, name := range []string{"application-overrides", "argocd-source-file", "applicationset-generator"} {
		t.Run(name, func(t *testing.T) { shapetest.Run(t, filepath.Join("testdata", "shapes", name), name) })
	}
}
