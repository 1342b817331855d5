package argocd

import (
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gitops-bot/gitops-bot/providers"
)

// docOrder is the order of keys in each mapping of a documented example,
// by path as providers.KeyOrder names them.
func docOrder(t *testing.T, file string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("testdata/argocd-docs/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				if !slices.Contains(out[path], k) {
					out[path] = append(out[path], k)
				}
				child := k
				if path != "" {
					child = path + "." + k
				}
				walk(n.Content[i+1], child)
			}
		case yaml.SequenceNode:
			for _, e := range n.Content {
				walk(e, path+"[]")
			}
		}
	}
	walk(doc.Content[0], "")
	return out
}

// inOrder checks that the keys of each mapping of text that the document
// names come in the document's order.
func inOrder(t *testing.T, text string, want map[string][]string, rename func(string) string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	checked := 0
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		if n.Kind == yaml.SequenceNode {
			for _, e := range n.Content {
				walk(e, path+"[]")
			}
		}
		if n.Kind != yaml.MappingNode {
			return
		}
		order := want[rename(path)]
		last := -1
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if at := slices.Index(order, k); at >= 0 {
				if at < last {
					t.Errorf("%s: %s comes after %s; Argo CD's documentation has %v", path, k, order[last], order)
				}
				last, checked = at, checked+1
			}
			child := k
			if path != "" {
				child = path + "." + k
			}
			walk(n.Content[i+1], child)
		}
	}
	walk(doc.Content[0], "")
	if checked < 10 {
		t.Errorf("only %d keys compared:\n%s", checked, text)
	}
}

// Applications and ApplicationSets are written in the order of Argo CD's
// documented examples (testdata/argocd-docs), not sorted.
func TestObjectsInArgoCDsDocumentedOrder(t *testing.T) {
	app := docOrder(t, "application.yaml")
	set := docOrder(t, "applicationset.yaml")
	chart, err := Provider{}.GenerateChart(providers.ChartRequest{App: "podinfo", Namespace: "podinfo",
		Env:    providers.Environment{Name: "staging", Dir: "clusters/staging", Namespace: "argocd"},
		Chart:  providers.Chart{RepoURL: "https://stefanprodan.github.io/podinfo", Name: "podinfo", Version: "6.7.0"},
		Values: map[string]any{"replicaCount": int64(2)}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := providers.Encode(chart[0].Objects)
	if err != nil {
		t.Fatal(err)
	}
	inOrder(t, string(b), app, func(p string) string { return p })
	if !strings.Contains(string(b), "spec:\n  project: ") || !strings.Contains(string(b), "\n  source:\n    repoURL: https://stefanprodan.github.io/podinfo\n    targetRevision: 6.7.0\n    chart: podinfo\n") {
		t.Errorf("not in the documented order:\n%s", b)
	}

	wired, err := Provider{}.WireApp(providers.AppRequest{App: "web", Namespace: "web", Format: providers.FormatKustomize,
		Repo: providers.GitSource{URL: "https://github.com/acme/fleet", Branch: "main"}, AppSet: "clusters/web-appset.yaml",
		Envs: []providers.AppEnvironment{
			{Environment: providers.Environment{Name: "staging", Dir: "clusters/staging", Namespace: "argocd"}, Overlay: "apps/overlays/staging/web", Wiring: "clusters/staging/web.yaml"},
			{Environment: providers.Environment{Name: "production", Dir: "clusters/production", Namespace: "argocd"}, Overlay: "apps/overlays/production/web", Wiring: "clusters/production/web.yaml"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	kinds := 0
	for _, m := range wired {
		for _, o := range m.Objects {
			b, err := providers.Encode([]providers.Object{o})
			if err != nil {
				t.Fatal(err)
			}
			switch o["kind"] {
			case "Application":
				kinds++
				inOrder(t, string(b), app, func(p string) string { return p })
			case "ApplicationSet":
				kinds++
				inOrder(t, string(b), set, func(p string) string {
					if strings.HasPrefix(p, "spec.template.spec") {
						return "-" // the Application's order, below
					}
					return p
				})
				// Its template is an Application: held to that order.
				inOrder(t, string(b), app, func(p string) string {
					if rest, ok := strings.CutPrefix(p, "spec.template."); ok {
						return rest
					}
					return "-"
				})
			}
		}
	}
	if kinds == 0 {
		t.Error("WireApp wrote no Application or ApplicationSet")
	}
}
