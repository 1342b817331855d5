package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/argocd"
	"github.com/gitops-bot/gitops-bot/providers/flux"
)

// Every real and composed status the rules are tested on reads the same
// after Trim: what the informers drop, no rule reads.
func TestTrimKeepsWhatIsRead(t *testing.T) {
	files, _ := filepath.Glob("../../providers/*/testdata/*.yaml")
	seen := map[string]int{}
	for _, f := range files {
		for i, obj := range decodeAll(t, f) {
			kind := obj.GetKind()
			if kind == "" || kind == "AppProject" || kind == "ApplicationSet" {
				continue
			}
			trimmed, err := Trim(obj.DeepCopy())
			if err != nil {
				t.Fatal(err)
			}
			tu := trimmed.(*unstructured.Unstructured)
			const repo = "https://github.com/argoproj/argocd-example-apps.git"
			var before, after any
			switch kind {
			case "Application":
				before, after = argocd.Observe(obj, repo), argocd.Observe(tu, repo)
			default:
				before, after = flux.Observe(obj), flux.Observe(tu)
			}
			if b, a := providers.Runs(obj), providers.Runs(tu); !reflect.DeepEqual(b, a) {
				t.Errorf("%s #%d (%s %s): runs %v, after Trim %v", filepath.Base(f), i, kind, obj.GetName(), b, a)
			}
			if !reflect.DeepEqual(before, after) {
				t.Errorf("%s #%d (%s %s): observed\n%+v\nafter Trim\n%+v", filepath.Base(f), i, kind, obj.GetName(), before, after)
			}
			if tu.GetName() != obj.GetName() || tu.GetNamespace() != obj.GetNamespace() || tu.GetGeneration() != obj.GetGeneration() {
				t.Errorf("%s #%d: metadata lost: %v", filepath.Base(f), i, tu.Object["metadata"])
			}
			seen[kind]++
		}
	}
	for _, kind := range []string{"Application", "Kustomization", "HelmRelease", "GitRepository", "OCIRepository", "HelmRepository"} {
		if seen[kind] == 0 {
			t.Errorf("no %s among the test statuses", kind)
		}
	}
}

// Whether Argo CD compared the current sources is decided on the whole
// sources, inline Helm values included, before they are dropped.
func TestTrimKeepsTheComparison(t *testing.T) {
	app := func(spec, compared string) *unstructured.Unstructured {
		src := func(v string) map[string]any {
			return map[string]any{"repoURL": "https://github.com/example/fleet", "chart": "c", "helm": map[string]any{"values": v}}
		}
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
			"metadata": map[string]any{"name": "a", "managedFields": []any{map[string]any{"manager": "argocd"}}},
			"spec":     map[string]any{"source": src(spec)},
			"status": map[string]any{"sync": map[string]any{"status": "Synced", "revision": "1.0.0", "comparedTo": map[string]any{"source": src(compared)}},
				"health": map[string]any{"status": "Healthy"}, "history": []any{"h"},
				"resources": []any{
					map[string]any{"group": "apps", "kind": "Deployment", "namespace": "web", "name": "api", "health": map[string]any{"status": "Healthy"}},
					map[string]any{"kind": "Service", "namespace": "web", "name": "api", "health": map[string]any{"status": "Degraded", "message": "no endpoints"}},
				}},
		}}
	}
	for _, c := range []struct {
		spec, compared string
		current        bool
	}{{"replicas: 2\n", "replicas: 2\n", true}, {"replicas: 3\n", "replicas: 2\n", false}} {
		in := app(c.spec, c.compared)
		out, _ := Trim(in.DeepCopy())
		tu := out.(*unstructured.Unstructured)
		before, after := argocd.Observe(in, ""), argocd.Observe(tu, "")
		if before.Current != c.current || !reflect.DeepEqual(after, before) {
			t.Errorf("values %q compared with %q: current %v, after Trim %+v", c.spec, c.compared, before.Current, after)
		}
		if b, _ := json.Marshal(tu.Object); strings.Contains(string(b), "replicas") || strings.Contains(string(b), "managedFields") || strings.Contains(string(b), "history") {
			t.Errorf("values, managed fields or history kept: %s", b)
		}
		if got, want := Owned(tu), "web_api_apps_Deployment\nweb_api__Service"; got != want || Owned(in) != want {
			t.Errorf("owned %q (before Trim %q), want %q", got, Owned(in), want)
		}
	}
}

func decodeAll(t *testing.T, file string) []*unstructured.Unstructured {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if m != nil {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}
