package flux

import (
	"os"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/render"
)

// The objects the bot writes are written as `flux create … --export`
// writes them (testdata/flux-create, Flux's own expected outputs): every
// field the CLI writes is there, in the same order and form, defaults
// included. What the CLI was told by a flag (an interval, ignore paths) is
// an input, not a convention: those fields are compared by their form only.
func TestObjectsAsFluxCreateWritesThem(t *testing.T) {
	generated := func(req providers.ChartRequest) []providers.Object {
		ms, err := Provider{}.GenerateChart(req)
		if err != nil {
			t.Fatal(err)
		}
		return ms[0].Objects
	}
	https := generated(providers.ChartRequest{App: "podinfo", Namespace: "podinfo", Env: staging,
		Chart: providers.Chart{RepoURL: "https://stefanprodan.github.io/charts/podinfo", Name: "podinfo", Version: "6.7.0"}})
	oci := generated(providers.ChartRequest{App: "podinfo", Namespace: "podinfo", Env: staging,
		Chart: providers.Chart{RepoURL: "oci://ghcr.io/stefanprodan/manifests", Name: "podinfo", Version: "6.3.5"}})
	wired, err := Provider{}.WireApp(providers.AppRequest{App: "podinfo", Namespace: "podinfo", Format: providers.FormatKustomize,
		Repo: providers.GitSource{URL: "https://github.com/stefanprodan/podinfo", Branch: "master"},
		Envs: []providers.AppEnvironment{{Environment: providers.Environment{Name: "staging", Dir: "clusters/staging", Namespace: "default"},
			Overlay: "apps/overlays/staging/podinfo", Wiring: "clusters/staging/podinfo.yaml"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		golden string
		ours   providers.Object
		flags  []string // fields a flag of the CLI's command set
	}{
		{"helmrepository.yaml", https[0], []string{"spec.interval"}},
		{"helmrelease-helmrepository.yaml", https[1], []string{"spec.interval"}},
		{"helmrelease-ocirepository.yaml", oci[1], []string{"spec.interval"}},
		{"ocirepository.yaml", oci[0], []string{"spec.interval"}},
		{"gitrepository.yaml", wired[0].Objects[0], []string{"spec.interval", "spec.ignore", "spec.sparseCheckout"}},
	} {
		t.Run(c.golden, func(t *testing.T) {
			raw, err := os.ReadFile("testdata/flux-create/" + c.golden)
			if err != nil {
				t.Fatal(err)
			}
			text := strings.TrimPrefix(strings.ReplaceAll(string(raw), "{{ .fluxns }}", "flux-system"), "---\n")
			var want map[string]any
			if err := yaml.Unmarshal([]byte(text), &want); err != nil {
				t.Fatal(err)
			}
			got := project(map[string]any(c.ours), want)
			for _, f := range c.flags {
				keys := strings.Split(f, ".")
				if d, ok := render.Get(want, keys...).(string); ok && keys[len(keys)-1] == "interval" {
					// The same form on both sides: Go's, as metav1.Duration writes it.
					ours, _ := render.Get(c.ours, keys...).(string)
					if parsed, err := time.ParseDuration(ours); err != nil || parsed.String() != ours || mustDuration(t, d).String() != d {
						t.Errorf("%s: ours %q, the CLI's %q: not both Go's duration form", f, ours, d)
					}
				}
				set(got, keys, render.Get(want, keys...))
			}
			b, err := providers.Encode([]providers.Object{got})
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != text {
				t.Errorf("the bot writes\n%s\nthe CLI writes\n%s", b, text)
			}
		})
	}
}

// project keeps of ours the fields want has, so that what the bot adds (its
// label, a version, the release's namespace) is left out of the comparison
// and what it lacks shows.
func project(ours, want map[string]any) map[string]any {
	out := map[string]any{}
	for k, w := range want {
		o, ok := ours[k]
		if !ok {
			continue
		}
		wm, wok := w.(map[string]any)
		om, ook := o.(map[string]any)
		if wok && ook {
			out[k] = project(om, wm)
			continue
		}
		out[k] = o
	}
	return out
}

func set(m map[string]any, keys []string, v any) {
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	if v == nil {
		delete(m, keys[len(keys)-1])
		return
	}
	m[keys[len(keys)-1]] = v
}

func mustDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
