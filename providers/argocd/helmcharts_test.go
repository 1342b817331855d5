package argocd_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/providers/argocd"
	"github.com/gitops-bot/gitops-bot/providers/flux"
	"github.com/gitops-bot/gitops-bot/render"
)

const app = `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: podinfo
  namespace: argocd
spec:
  project: default
  source:
    repoURL: https://github.com/acme/fleet
    targetRevision: main
    path: apps/podinfo
  destination:
    server: https://kubernetes.default.svc
    namespace: podinfo
`

// A kustomization's helmCharts, inflated as kustomize --enable-helm
// inflates them: the chart fetched, valuesInline over valuesFile, then
// additionalValuesFiles; test hooks kept unless skipTests; kustomize's own
// transformers over the chart's objects.
func TestHelmChartsInflated(t *testing.T) {
	files := render.Files{
		"clusters/staging/podinfo.yaml": app,
		"apps/podinfo/kustomization.yaml": `namespace: podinfo
labels:
  - pairs: {team: web}
helmCharts:
  - name: podinfo
    repo: https://stefanprodan.github.io/podinfo
    version: 6.14.1
    releaseName: podinfo
    namespace: podinfo
    valuesFile: values.yaml
    additionalValuesFiles: [staging.yaml]
    valuesInline:
      replicaCount: 3
      ui: {message: inline}
`,
		"apps/podinfo/values.yaml":  "replicaCount: 1\nui: {message: file, color: '#aaaaaa'}\n",
		"apps/podinfo/staging.yaml": "ui: {color: '#bbbbbb'}\n",
	}
	env := renderEnv(t, files, "argocd")
	dep := find(t, env, "Deployment", "podinfo")
	if got := dep.Obj["spec"].(map[string]any)["replicas"]; fmt.Sprint(got) != "3" {
		t.Errorf("replicas %v, want valuesInline's 3", got)
	}
	envs := containerEnv(dep.Obj)
	if envs["PODINFO_UI_MESSAGE"] != "inline" || envs["PODINFO_UI_COLOR"] != "#bbbbbb" {
		t.Errorf("values: inline over the file, the additional file last; env %v", envs)
	}
	if labels := dep.Obj["metadata"].(map[string]any)["labels"].(map[string]any); labels["team"] != "web" {
		t.Errorf("kustomize's labels not on the chart's objects: %v", labels)
	}
	if dep.File != "apps/podinfo/kustomization.yaml" || dep.Inflated == nil || dep.Inflated.Index != 0 {
		t.Fatalf("provenance: file %q inflated %+v", dep.File, dep.Inflated)
	}
	if l := dep.Inflated.Layers; l.Chart != "podinfo" || l.Values["image"] == nil || len(l.Files) != 2 {
		t.Errorf("layers: %+v", l)
	}
	hooks := 0
	for _, o := range env.Objects {
		if ann, _ := o.Obj["metadata"].(map[string]any)["annotations"].(map[string]any); ann != nil && strings.Contains(ann["helm.sh/hook"].(string)+"", "test") {
			hooks++
		}
	}
	if hooks == 0 {
		t.Error("helm template keeps test hooks unless skipTests; none rendered")
	}
	reads := env.Appliers[dep.Applier].Inputs
	for _, want := range []string{"apps/podinfo/values.yaml", "apps/podinfo/staging.yaml", "apps/podinfo/kustomization.yaml"} {
		if !contains(reads, want) {
			t.Errorf("the applier's inputs lack %s: %v", want, reads)
		}
	}

	t.Run("skipTests and a local chart", func(t *testing.T) {
		local := render.Files{
			"clusters/staging/podinfo.yaml":   app,
			"apps/podinfo/kustomization.yaml": "helmGlobals: {chartHome: ../../charts}\nhelmCharts:\n  - name: web\n    skipTests: true\n",
			"charts/web/Chart.yaml":           "apiVersion: v2\nname: web\nversion: 0.1.0\n",
			"charts/web/values.yaml":          "tag: 1.0.0\n",
			"charts/web/templates/d.yaml":     "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: {{ .Release.Name }}}\nspec:\n  template:\n    spec:\n      containers: [{name: web, image: 'ghcr.io/acme/web:{{ .Values.tag }}'}]\n",
			"charts/web/templates/test.yaml":  "apiVersion: v1\nkind: Pod\nmetadata:\n  name: t\n  annotations: {helm.sh/hook: test}\nspec: {containers: [{name: t, image: busybox}]}\n",
		}
		env := renderEnv(t, local, "argocd")
		d := find(t, env, "Deployment", "release-name") // helm template's name when none is given
		if d.Inflated == nil || d.Inflated.Layers.Values["tag"] != "1.0.0" {
			t.Errorf("inflated %+v", d.Inflated)
		}
		for _, o := range env.Objects {
			if o.Kind() == "Pod" {
				t.Error("skipTests: the test hook is rendered")
			}
		}
	})
	t.Run("Flux does not inflate them", func(t *testing.T) {
		flux := render.Files{
			"clusters/staging/kustomization.yaml": "resources: [../../apps/podinfo]\n",
			"apps/podinfo/kustomization.yaml":     files["apps/podinfo/kustomization.yaml"],
		}
		env := renderEnv(t, flux, "flux")
		if len(env.Failed()) == 0 || !strings.Contains(env.Failed()[0].Err.Error(), "helm") {
			t.Fatalf("kustomize-controller refuses helmCharts; the render: %v failed", env.Failed())
		}
	})
}

func renderEnv(t *testing.T, files render.Files, tool string) *render.Env {
	t.Helper()
	ctx := context.Background()
	r := render.New(render.Options{Tools: []render.Tool{flux.Renderer{}, argocd.Renderer{}}, RepoURL: "https://github.com/acme/fleet", Charts: render.ChartDir("../../testdata/charts")})
	env, err := r.Env(ctx, render.NewTree(ctx, files, ""), render.Spec{Name: "staging", Dir: "clusters/staging", Tool: tool})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func find(t *testing.T, env *render.Env, kind, name string) render.Object {
	t.Helper()
	for _, o := range env.Objects {
		if o.Kind() == kind && o.Name() == name {
			return o
		}
	}
	for _, a := range env.Failed() {
		t.Logf("%s failed: %v", a.Ref, a.Err)
	}
	t.Fatalf("no %s %s in the render", kind, name)
	return render.Object{}
}

func containerEnv(obj map[string]any) map[string]string {
	out := map[string]string{}
	spec := obj["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	for _, c := range spec["containers"].([]any) {
		for _, e := range c.(map[string]any)["env"].([]any) {
			m := e.(map[string]any)
			if v, ok := m["value"].(string); ok {
				out[m["name"].(string)] = v
			}
		}
	}
	return out
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}
