package preview_test

import (
	"context"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot/model"
	"github.com/gitops-bot/gitops-bot/preview"
	"github.com/gitops-bot/gitops-bot/render"
)

// An ApplicationSet whose git generator gains a directory: the preview
// adds one Application and what it applies, and the head renders that new
// Application alone (the others' inputs are unchanged).
func TestApplicationSetGainsADirectory(t *testing.T) {
	app := func(name string) map[string]string {
		return map[string]string{
			"apps/" + name + "/kustomization.yaml": "resources: [deployment.yaml]\n",
			"apps/" + name + "/deployment.yaml":    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + name + "}\nspec:\n  template:\n    spec:\n      containers: [{name: " + name + ", image: 'ghcr.io/acme/" + name + ":1.0.0', resources: {requests: {memory: 64Mi}}}]\n",
		}
	}
	base := map[string]string{"clusters/staging/apps.yaml": `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: apps, namespace: argocd}
spec:
  generators:
    - git:
        repoURL: https://github.com/acme/fleet
        revision: main
        directories: [{path: apps/*}]
  template:
    metadata: {name: '{{path.basename}}'}
    spec:
      project: default
      source: {repoURL: https://github.com/acme/fleet, targetRevision: main, path: '{{path}}'}
      destination: {server: https://kubernetes.default.svc, namespace: '{{path.basename}}'}
`}
	for _, n := range []string{"web", "api", "jobs"} {
		for k, v := range app(n) {
			base[k] = v
		}
	}
	head := map[string]string{}
	for k, v := range base {
		head[k] = v
	}
	for k, v := range app("search") {
		head[k] = v
	}
	ctx := context.Background()
	r := model.New(url, nil)
	spec := []render.Spec{{Name: "staging", Dir: "clusters/staging", Tool: "argocd"}}
	bt, ht := render.NewTree(ctx, render.Files(base), "base"), render.NewTree(ctx, render.Files(head), "head")
	if _, err := r.Env(ctx, bt, spec[0]); err != nil {
		t.Fatal(err)
	}
	before := r.Stats()
	reps, err := preview.Environments(ctx, r, r, spec, bt, ht, []string{"apps/search/kustomization.yaml", "apps/search/deployment.yaml"}, preview.Options{})
	if err != nil || len(reps) != 1 {
		t.Fatalf("previews %v, %v", reps, err)
	}
	p := reps[0]
	added := map[string]bool{}
	for _, o := range p.Added {
		added[o.Kind+" "+o.Name] = true
	}
	if len(p.Added) != 2 || !added["Application search"] || !added["Deployment search"] || len(p.Changed)+len(p.Removed) != 0 {
		t.Errorf("added %v changed %v removed %v", p.Added, p.Changed, p.Removed)
	}
	if d := p.Resources.MemoryRequests; d.From != "192Mi" || d.To != "256Mi" {
		t.Errorf("memory requests %+v", d)
	}
	// The root and the ApplicationSet read what changed; the new
	// Application is new: three renders, the three others reused.
	if got := r.Stats().Renders - before.Renders; got > 3 {
		t.Errorf("the head rendered %d appliers, want the ApplicationSet's new Application and what reads the change (at most 3)", got)
	}
}
