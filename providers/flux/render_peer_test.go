package flux_test

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers/chartrender"
	"github.com/gitops-bot/gitops-bot/providers/flux"
	"github.com/gitops-bot/gitops-bot/render"
)

const fluxBuild = "testdata/flux2-build-kustomization"

// The render of a Kustomization is what `flux build kustomization` makes
// of it, on Flux's own test cases (testdata/flux2-build-kustomization).
func TestRenderIsWhatFluxBuildMakes(t *testing.T) {
	ks, err := os.ReadFile(fluxBuild + "/podinfo-kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, path, want string }{
		{"build podinfo", "./podinfo", "podinfo-result.yaml"},
		{"var substitution", "./var-substitution", "podinfo-with-var-substitution-result.yaml"},
		{"recursive", "./podinfo-with-my-app", "podinfo-with-my-app-result.yaml"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			obj := strings.ReplaceAll(string(ks), "{{ .fluxns }}", "flux-system")
			obj = strings.Replace(obj, "path: ./kustomize", "path: "+c.path, 1)
			tree := render.NewTree(ctx, render.Dir(fluxBuild), "").With(ctx, []forge.File{{Path: "_env/podinfo.yaml", Content: []byte(obj)}})
			r := render.New(render.Options{Tools: []render.Tool{flux.Renderer{}}})
			env, err := r.Env(ctx, tree, render.Spec{Name: "test", Dir: "_env", Tool: "flux"})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range env.Failed() {
				t.Fatalf("%s: %v", a.Ref, a.Err)
			}
			got := map[string]map[string]any{}
			for _, o := range env.Objects {
				if env.Appliers[o.Applier].Ref == render.Root {
					continue // the Kustomization itself
				}
				got[o.ID()] = comparable(o.Obj)
			}
			b, err := os.ReadFile(fluxBuild + "/" + c.want)
			if err != nil {
				t.Fatal(err)
			}
			docs, err := chartrender.Decode(strings.ReplaceAll(string(b), "{{ .fluxns }}", "flux-system"))
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]map[string]any{}
			for _, d := range docs {
				labels, _ := d["metadata"].(map[string]any)["labels"].(map[string]any)
				delete(labels, "kustomize.toolkit.fluxcd.io/name")
				delete(labels, "kustomize.toolkit.fluxcd.io/namespace")
				if len(labels) == 0 {
					delete(d["metadata"].(map[string]any), "labels")
				}
				want[render.Object{Obj: d}.ID()] = comparable(d)
			}
			if !reflect.DeepEqual(keys(got), keys(want)) {
				t.Fatalf("objects\n got %v\nwant %v", keys(got), keys(want))
			}
			for id, w := range want {
				if !reflect.DeepEqual(got[id], w) {
					t.Errorf("%s\n got %v\nwant %v", id, got[id], w)
				}
			}
		})
	}
}

// comparable is an object as both sides can say it: a Secret by its keys
// (flux build masks values).
func comparable(o map[string]any) map[string]any {
	if o["kind"] != "Secret" {
		b, _ := json.Marshal(o) // numbers as both decoders agree on them
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		return out
	}
	var ks []string
	for _, f := range []string{"data", "stringData"} {
		m, _ := o[f].(map[string]any)
		for k := range m {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return map[string]any{"metadata": o["metadata"], "type": o["type"], "keys": strings.Join(ks, ",")}
}

func keys(m map[string]map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

const fluxLocal = "testdata/flux-local"

// What the Kustomizations of a cluster apply is what `flux-local build ks`
// makes of it (testdata/flux-local).
func TestRenderIsWhatFluxLocalBuilds(t *testing.T) {
	ctx := context.Background()
	r := render.New(render.Options{Tools: []render.Tool{flux.Renderer{}}})
	env, err := r.Env(ctx, render.NewTree(ctx, render.Dir(fluxLocal), ""), render.Spec{Name: "prod", Dir: "tests/testdata/cluster/clusters/prod", Tool: "flux"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]any{}
	for _, o := range env.Objects {
		if a := env.Appliers[o.Applier]; a.Ref.Kind == "HelmRelease" || o.Kind() == "Secret" {
			continue // flux-local's build ks renders no charts and shows no Secrets
		}
		got[o.ID()] = comparable(o.Obj)
	}
	want := map[string]map[string]any{}
	for _, d := range snapshot(t, fluxLocal+"/tests/tool/__snapshots__/test_build_ks.ambr", "test_build_ks[build-ks]") {
		b, _ := json.Marshal(d)
		if strings.Contains(string(b), "PLACEHOLDER") {
			delete(got, render.Object{Obj: d}.ID())
			continue
		}
		meta := d["metadata"].(map[string]any)
		for _, f := range []string{"labels", "annotations"} {
			m, _ := meta[f].(map[string]any)
			for k := range m {
				if strings.HasPrefix(k, "kustomize.toolkit.fluxcd.io/") || strings.HasSuffix(k, "config.kubernetes.io/index") {
					delete(m, k)
				}
			}
			if m != nil && len(m) == 0 {
				delete(meta, f)
			}
		}
		want[render.Object{Obj: d}.ID()] = comparable(d)
	}
	for id := range got {
		if strings.Contains(id, "SECRET_DOMAIN") || strings.Contains(id, "-staging") && strings.HasPrefix(id, "cert-manager.io/") {
			if _, ok := want[id]; !ok {
				delete(got, id) // a Certificate named by a Secret's value: a placeholder in the snapshot
			}
		}
	}
	if len(want) < 15 {
		t.Fatalf("only %d objects compared: the snapshot was not read", len(want))
	}
	if !reflect.DeepEqual(keys(got), keys(want)) {
		t.Fatalf("objects\n got %v\nwant %v", keys(got), keys(want))
	}
	for id, w := range want {
		if !reflect.DeepEqual(got[id], w) {
			t.Errorf("%s\n got %v\nwant %v", id, got[id], w)
		}
	}
}

// snapshot reads the documents of one case of a syrupy snapshot file.
func snapshot(t *testing.T, file, name string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	start := strings.Index(s, "# name: "+name+"\n")
	if start < 0 {
		t.Fatalf("no case %s in %s", name, file)
	}
	body := s[start:]
	body = body[strings.Index(body, "'''\n")+4:]
	body = body[:strings.Index(body, "\n  '''")]
	var lines []string
	for _, l := range strings.Split(body, "\n") {
		lines = append(lines, strings.TrimPrefix(l, "  "))
	}
	docs, err := chartrender.Decode(strings.Join(lines, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return docs
}
