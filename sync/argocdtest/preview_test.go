package argocdtest

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitops-bot/gitops-bot/bot/model"
	"github.com/gitops-bot/gitops-bot/preview"
	"github.com/gitops-bot/gitops-bot/render"
	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

// What the real Argo CD applies from each side of a pull request is what
// the preview says the pull request changes: the objects added, changed
// and removed, Application by Application. The pull request changes the
// base (both generated Applications) and adds a ConfigMap to staging.
func TestPreviewSaysWhatArgoCDApplies(t *testing.T) {
	argo := Start(t, Need(t), Options{})
	gh, url, base := exampleFleet(t)
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flags}\ndata: {beta: \"true\"}\n"
	staging := "apps/overlays/staging/frontend/"
	head := maps.Clone(base)
	head["apps/base/frontend/deployment.yaml"] = strings.Replace(base["apps/base/frontend/deployment.yaml"], "cpu: 100m", "cpu: 300m", 1)
	head[staging+"flags.yaml"] = cm
	head[staging+"kustomization.yaml"] = strings.Replace(base[staging+"kustomization.yaml"], "- namespace.yaml\n", "- namespace.yaml\n- flags.yaml\n", 1)

	apps := []string{"root-staging", "frontend-staging", "frontend-production"}
	baseSHA := argo.syncRoot(t, gh, url, base)
	before := argo.Applied(t, baseSHA, 3*time.Minute, apps...)

	headSHA := gh.Push("main", "the pull request, merged", head)
	argo.RefreshAll(t)
	after := argo.Applied(t, headSHA, 3*time.Minute, apps...)
	applied := appliedChanges(before, after)

	ctx := context.Background()
	spec := render.Spec{Name: "staging", Dir: "clusters/staging", Tool: "argocd"}
	r := model.New(url, nil)
	baseTree, headTree := render.NewTree(ctx, clustertest.Files(base), baseSHA), render.NewTree(ctx, clustertest.Files(head), headSHA)
	eb, err := r.Env(ctx, baseTree, spec)
	if err != nil {
		t.Fatal(err)
	}
	eh, err := r.Env(ctx, headTree, spec)
	if err != nil {
		t.Fatal(err)
	}
	rep := preview.Compare(eb, eh, baseTree, headTree, preview.Options{})
	previewed := map[string][]string{}
	for what, refs := range map[string][]preview.ObjectRef{"added": rep.Added, "changed": rep.Changed, "removed": rep.Removed} {
		for _, o := range refs {
			app := strings.TrimPrefix(o.Applier, "Application argocd/")
			if strings.HasPrefix(o.Applier, "the environment's directory") {
				app = "root-staging"
			}
			previewed[what] = append(previewed[what], app+" "+o.Kind+"/"+o.Name)
		}
		slices.Sort(previewed[what])
	}
	if !reflect.DeepEqual(previewed, applied) {
		t.Errorf("the preview says\n%v\nArgo CD applied\n%v", previewed, applied)
	}
	if len(applied["added"]) == 0 || len(applied["changed"]) < 2 {
		t.Errorf("the pull request should add and change: %v", applied)
	}
}

// appliedChanges is what the objects applied at the head add, change and
// remove against the base's, as "APP KIND/NAME".
func appliedChanges(before, after map[string][]*unstructured.Unstructured) map[string][]string {
	index := func(m map[string][]*unstructured.Unstructured) map[string]map[string]any {
		out := map[string]map[string]any{}
		for key, objs := range m {
			app := strings.TrimPrefix(key, "Application/argocd/")
			for _, o := range objs {
				out[app+" "+o.GetKind()+"/"+o.GetName()] = o.Object
			}
		}
		return out
	}
	b, a := index(before), index(after)
	out := map[string][]string{}
	for k, o := range a {
		switch old, ok := b[k]; {
		case !ok:
			out["added"] = append(out["added"], k)
		case !reflect.DeepEqual(old, o):
			out["changed"] = append(out["changed"], k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out["removed"] = append(out["removed"], k)
		}
	}
	for _, v := range out {
		slices.Sort(v)
	}
	return out
}
