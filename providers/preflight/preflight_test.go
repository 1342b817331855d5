package preflight

import (
	"context"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/forgetest"
)

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "ghcr.io/acme/web:1"}]}
`

// The build reads, through the forge, only the files kustomize asks for.
func TestTreeReadsOnlyWhatTheBuildNeeds(t *testing.T) {
	fake := forgetest.New(map[string]string{
		"apps/base/web/kustomization.yaml": "resources: [deployment.yaml]\n",
		"apps/base/web/deployment.yaml":    deployment,
		"apps/other/huge.yaml":             strings.Repeat("x: 1\n", 1000),
	})
	files, _ := fake.ListFiles(context.Background(), forge.Repo{}, "main", "")
	reads := 0
	counting := &countingReader{Reader: fake, n: &reads}
	tree := NewTree(context.Background(), counting, forge.Repo{}, "main", files, []forge.File{
		{Path: "apps/overlays/staging/web/kustomization.yaml", Content: []byte("namespace: web\nresources: [../../../base/web]\n")},
	})
	if err := Check(context.Background(), tree, Request{Kustomizations: []string{"apps/overlays/staging/web"}}); err != nil {
		t.Fatal(err)
	}
	if reads != 2 {
		t.Errorf("%d files read, want the base's 2", reads)
	}
}

type countingReader struct {
	forge.Reader
	n *int
}

func (c *countingReader) ReadFile(ctx context.Context, r forge.Repo, ref, p string) ([]byte, error) {
	*c.n++
	return c.Reader.ReadFile(ctx, r, ref, p)
}

func TestCheckReportsWhereItFails(t *testing.T) {
	fake := forgetest.New(map[string]string{})
	tree := NewTree(context.Background(), fake, forge.Repo{}, "main", nil, []forge.File{
		{Path: "apps/web/kustomization.yaml", Content: []byte("resources: [deployment.yaml]\n")},
		{Path: "apps/web/deployment.yaml", Content: []byte(strings.Replace(deployment, `name: web, image`, `image`, 1))},
		{Path: "charts/web/Chart.yaml", Content: []byte("apiVersion: v2\nname: web\nversion: 0.1.0\n")},
		{Path: "charts/web/templates/svc.yaml", Content: []byte("apiVersion: v1\nkind: Service\nmetadata: {name: {{ .Release.Name }}}\nspec: {ports: [{port: \"eighty\"}]}\n")},
		{Path: "charts/broken/Chart.yaml", Content: []byte("apiVersion: v2\nname: broken\nversion: 0.1.0\n")},
		{Path: "charts/broken/templates/x.yaml", Content: []byte("{{ .Values.nope.deeper }}\n")},
	})
	err := Check(context.Background(), tree, Request{
		Kustomizations: []string{"apps/web"},
		Charts:         []Chart{{Dir: "charts/web", Release: "web", Namespace: "web"}, {Dir: "charts/broken", Release: "b", Namespace: "b"}},
	})
	pe, ok := err.(*Error)
	if !ok {
		t.Fatalf("err = %v", err)
	}
	text := pe.Error()
	for _, want := range []string{"apps/web (Deployment/web)", "containers", "charts/web/templates/svc.yaml (Service/web)", "ports", "charts/broken"} {
		if !strings.Contains(text, want) {
			t.Errorf("problems lack %q:\n%s", want, text)
		}
	}
}
