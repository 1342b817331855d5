// Package shapetest runs a shape on its fixtures. Each fixture is a
// txtar archive in the shape's testdata directory: a case.yaml that says
// which environment, workload and value, the repository's files under
// repo/, and under want/ each file the edit must write, byte for byte
// (none: the shape must propose nothing). The edit is then rendered: the
// rendered workload must have the value asked.
package shapetest

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers/argocd"
	"github.com/gitops-bot/gitops-bot/providers/flux"
	"github.com/gitops-bot/gitops-bot/providers/shape"
	"github.com/gitops-bot/gitops-bot/render"
)

// Case is a fixture's case.yaml.
type Case struct {
	Tool string `json:"tool"` // flux or argocd
	Env  string `json:"env"`  // the environment's directory
	// Object is "Kind/name" of the rendered object the value is asked of.
	Object    string            `json:"object"`
	Field     shape.Field       `json:"field"`
	Container string            `json:"container,omitempty"`
	Image     string            `json:"image,omitempty"`
	Replicas  int               `json:"replicas,omitempty"`
	Resources map[string]string `json:"resources,omitempty"`
	Bounds    map[string]int    `json:"bounds,omitempty"`
}

// Run runs the shape named name on every fixture in dir
// (testdata/<shape>/*.txtar).
func Run(t *testing.T, dir, name string) {
	t.Helper()
	var s shape.Shape
	for _, sh := range shape.All() {
		if sh.Name() == name {
			s = sh
		}
	}
	if s == nil {
		t.Fatalf("no shape %s", name)
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.txtar"))
	if len(paths) == 0 {
		t.Fatalf("no fixtures in %s", dir)
	}
	for _, p := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(p), ".txtar"), func(t *testing.T) { one(t, p, s) })
	}
}

func one(t *testing.T, file string, s shape.Shape) {
	ar, err := txtar.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var c Case
	repo := render.Files{}
	want := map[string]string{}
	for _, f := range ar.Files {
		switch {
		case f.Name == "case.yaml":
			if err := sigsyaml.UnmarshalStrict(f.Data, &c); err != nil {
				t.Fatalf("case.yaml: %v", err)
			}
		case strings.HasPrefix(f.Name, "repo/"):
			repo[strings.TrimPrefix(f.Name, "repo/")] = string(f.Data)
		case strings.HasPrefix(f.Name, "want/"):
			want[strings.TrimPrefix(f.Name, "want/")] = string(f.Data)
		case f.Name == "none":
		default:
			t.Fatalf("unknown section %s", f.Name)
		}
	}
	ctx := context.Background()
	r := render.New(render.Options{Tools: []render.Tool{flux.Renderer{}, argocd.Renderer{}}, RepoURL: "https://github.com/acme/fleet"})
	tree := render.NewTree(ctx, repo, "")
	spec := render.Spec{Name: filepath.Base(c.Env), Dir: c.Env, Tool: c.Tool}
	env, err := r.Env(ctx, tree, spec)
	if err != nil {
		t.Fatal(err)
	}
	target, err := targetOf(env, tree, c)
	if err != nil {
		t.Fatal(err)
	}
	edits := s.Edits(target)
	if len(want) == 0 {
		if len(edits) != 0 {
			t.Fatalf("want no edit, got %d: %s", len(edits), edits[0].Where)
		}
		return
	}
	for _, e := range edits {
		got := map[string]string{e.File: string(e.Content)}
		for _, a := range e.Also {
			got[a.Path] = string(a.Content)
		}
		if !maps.Equal(got, want) {
			continue
		}
		if e.Where == "" {
			t.Errorf("the edit of %s does not say where it is", e.File)
		}
		var files []forge.File
		for p, content := range got {
			files = append(files, forge.File{Path: p, Content: []byte(content)})
		}
		after, err := r.Env(ctx, tree.With(ctx, files), spec)
		if err != nil {
			t.Fatal(err)
		}
		if why := lacks(after, c, target.Ask); why != "" {
			t.Fatalf("after %s, %s", e.Where, why)
		}
		return
	}
	var b strings.Builder
	for _, e := range edits {
		fmt.Fprintf(&b, "\n--- %s (%s):\n%s", e.File, e.Where, e.Content)
	}
	t.Fatalf("no edit writes want/ (%s); the shape proposed %d:%s", strings.Join(slices.Sorted(maps.Keys(want)), ", "), len(edits), b.String())
}

// targetOf is the rendered object the case names, as the shapes see it.
func targetOf(env *render.Env, tree *render.Tree, c Case) (*shape.Target, error) {
	kind, name, _ := strings.Cut(c.Object, "/")
	for _, o := range env.Objects {
		if o.Kind() != kind || o.Name() != name {
			continue
		}
		ask := shape.Ask{Field: c.Field, Container: c.Container, Replicas: c.Replicas, Resources: c.Resources, Bounds: c.Bounds}
		if c.Field == shape.Image || c.Field == shape.Resources {
			if ask.Container == "" {
				ask.Container = name
			}
			cur, _ := shape.Container(o.Obj, ask.Container)["image"].(string)
			ask.Old, ask.Image = shape.ParseImg(cur), shape.ParseImg(c.Image)
		}
		return &shape.Target{Env: env, Object: o, Chain: env.Chain(o.Applier), Tree: tree, Docs: shape.NewDocs(tree), Ask: ask}, nil
	}
	var have []string
	for _, o := range env.Objects {
		have = append(have, o.Kind()+"/"+o.Name())
	}
	for _, a := range env.Failed() {
		have = append(have, fmt.Sprintf("(%s failed: %v)", a.Ref, a.Err))
	}
	return nil, fmt.Errorf("no %s in the render of %s; it has %s", c.Object, c.Env, strings.Join(have, ", "))
}

// lacks says what the rendered object lacks of the value asked.
func lacks(env *render.Env, c Case, ask shape.Ask) string {
	kind, name, _ := strings.Cut(c.Object, "/")
	for _, o := range env.Objects {
		if o.Kind() != kind || o.Name() != name {
			continue
		}
		switch ask.Field {
		case shape.Image:
			if got, _ := shape.Container(o.Obj, ask.Container)["image"].(string); got != c.Image {
				return fmt.Sprintf("the image is %s", got)
			}
		case shape.Replicas:
			if got := fmt.Sprint(shape.Get(o.Obj, "spec", "replicas")); got != fmt.Sprint(c.Replicas) {
				return "the replicas are " + got
			}
		case shape.Resources:
			for k, v := range c.Resources {
				if got := fmt.Sprint(shape.Get(shape.Container(o.Obj, ask.Container), append([]string{"resources"}, strings.Split(k, ".")...)...)); got != v {
					return fmt.Sprintf("resources.%s is %s", k, got)
				}
			}
		case shape.Bounds:
			for k, v := range c.Bounds {
				if got := fmt.Sprint(shape.Get(o.Obj, "spec", k)); got != fmt.Sprint(v) {
					return fmt.Sprintf("spec.%s is %s", k, got)
				}
			}
		}
		return ""
	}
	return "the object is no longer rendered"
}
