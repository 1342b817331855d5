package argocd_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers/argocd"
	"github.com/gitops-bot/gitops-bot/render"
)

const examples = "../../testdata/corpus/argoproj-argo-cd-applicationset/files"

// Argo CD keeps each ApplicationSet example in both template syntaxes,
// meant to make the same Applications: the render of each pair agrees,
// and makes the Applications the example documents.
func TestApplicationSetExamplesAgreeAcrossSyntaxes(t *testing.T) {
	pairs, err := filepath.Glob(examples + "/applicationset/examples/*/*-fasttemplate.yaml")
	if err != nil || len(pairs) < 5 {
		t.Fatalf("examples: %v %v", pairs, err)
	}
	clusters := []render.Cluster{
		{Name: "engineering-dev", Server: "https://1.2.3.4", Labels: map[string]string{"env": "staging", "environment": "staging"}},
		{Name: "engineering-prod", Server: "https://2.4.6.8", Labels: map[string]string{"env": "prod", "environment": "prod"}},
	}
	want := map[string][]string{ // Applications the examples' READMEs and tests name
		"list-example":            {"engineering-dev-guestbook", "engineering-prod-guestbook"},
		"git-directories-example": {"argo-workflows", "prometheus-operator"},
		"git-generator-files":     {"engineering-dev-guestbook", "engineering-prod-guestbook"},
	}
	compared := 0
	for _, fast := range pairs {
		gotmpl := strings.TrimSuffix(fast, "-fasttemplate.yaml") + ".yaml"
		if _, err := os.Stat(gotmpl); err != nil {
			continue
		}
		name := strings.TrimSuffix(filepath.Base(gotmpl), ".yaml")
		switch name {
		case "list-and-list":
			// Its goTemplate variant names .path, which neither of its list
			// generators makes: Argo CD fails it (missingkey=error), as the
			// render does; the fasttemplate variant leaves {{path.path}} be.
			continue
		case "merge-two-matrixes":
			// Its goTemplate variant overrides the flat key
			// "values.replicaCount", which {{.values.replicaCount}} does not
			// read: the override takes effect in the default syntax only.
			continue
		}
		t.Run(name, func(t *testing.T) {
			a := generated(t, fast, clusters)
			b := generated(t, gotmpl, clusters)
			if len(a) == 0 || len(a) != len(b) {
				t.Fatalf("fasttemplate makes %d Applications, goTemplate %d", len(a), len(b))
			}
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("fasttemplate makes\n%s\ngoTemplate makes\n%s", a[i], b[i])
				}
			}
			if w, ok := want[name]; ok {
				var names []string
				for _, app := range a {
					var o map[string]any
					_ = json.Unmarshal([]byte(app), &o)
					names = append(names, o["metadata"].(map[string]any)["name"].(string))
				}
				sort.Strings(names)
				if strings.Join(names, ",") != strings.Join(w, ",") {
					t.Errorf("Applications %v, want %v", names, w)
				}
			}
		})
		compared++
	}
	if compared < 5 {
		t.Fatalf("only %d pairs compared", compared)
	}
}

// generated renders one ApplicationSet file as an environment of its own
// and returns the Applications it makes, as sorted JSON.
func generated(t *testing.T, file string, clusters []render.Cluster) []string {
	t.Helper()
	ctx := context.Background()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	tree := render.NewTree(ctx, render.Dir(examples), "").With(ctx, []forge.File{{Path: "_env/appset.yaml", Content: b}})
	r := render.New(render.Options{Tools: []render.Tool{argocd.Renderer{}}, RepoURL: "https://github.com/argoproj/argo-cd.git", Clusters: clusters})
	env, err := r.Env(ctx, tree, render.Spec{Name: "test", Dir: "_env", Tool: "argocd"})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range env.Appliers {
		if a.Ref.Kind == "ApplicationSet" && a.Err != nil {
			t.Fatalf("%s: %v", file, a.Err)
		}
	}
	for _, o := range env.Objects {
		if o.Kind() == "Application" {
			j, _ := json.Marshal(o.Obj)
			out = append(out, string(j))
		}
	}
	sort.Strings(out)
	return out
}
