package argocdtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/examples"
	"github.com/gitops-bot/gitops-bot/forge/github/githubtest"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/render"
	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

// The real Argo CD syncs the example fleet's staging root (an app of apps
// whose ApplicationSet generates one Application per environment); what
// each Application applied, read back from the API server, is what the
// render model says it applies, with the tracking annotation Argo CD adds
// to every object it applies, once the API server's defaults are filled in
// on both sides.
func TestAppliedIsWhatTheFleetBuilds(t *testing.T) {
	argo := Start(t, Need(t), Options{})
	gh, url, files := exampleFleet(t)
	sha := argo.syncRoot(t, gh, url, files)

	destination := map[string]string{"root-staging": "argocd", "frontend-staging": "frontend-staging", "frontend-production": "frontend-production"}
	applied := argo.Applied(t, sha, 3*time.Minute, "root-staging", "frontend-staging", "frontend-production")
	// What the render model says each Application applies: the app of
	// apps (its own directory), and the two the ApplicationSet generates.
	rendered, err := clustertest.Rendered(context.Background(), files, url, render.Spec{Name: "staging", Dir: "clusters/staging", Tool: "argocd"}, "Application/argocd/root-staging")
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]string{
		"Application/argocd/root-staging":        "clusters/staging",
		"Application/argocd/frontend-staging":    "apps/overlays/staging/frontend",
		"Application/argocd/frontend-production": "apps/overlays/production/frontend",
	}
	clustertest.SameAsRendered(t, argo.Env, applied, rendered, dirs, func(key string, o *unstructured.Unstructured) {
		// Argo CD's default tracking (annotation): APP:GROUP/KIND:NS/NAME,
		// NS the object's or else the destination's, even for a
		// cluster-scoped object (seen on a Namespace).
		app := strings.TrimPrefix(key, "Application/argocd/")
		gvk := o.GroupVersionKind()
		ns := o.GetNamespace()
		if ns == "" {
			ns = destination[app]
			if !clusterScoped(gvk.Kind) {
				o.SetNamespace(ns)
			}
		}
		annotations := o.GetAnnotations()
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations["argocd.argoproj.io/tracking-id"] = app + ":" + gvk.Group + "/" + gvk.Kind + ":" + ns + "/" + o.GetName()
		o.SetAnnotations(annotations)
	})
}

func clusterScoped(kind string) bool { return kind == "Namespace" }

// exampleFleet is a fake GitHub serving nothing yet, the example Argo CD
// fleet's address on it, and the fleet's files.
func exampleFleet(t *testing.T) (*githubtest.Server, string, map[string]string) {
	gh := githubtest.New(t, "acme", "fleet", nil)
	url := gh.WebURL() + "/acme/fleet.git"
	files, err := examples.Files("argocd", url)
	if err != nil {
		t.Fatal(err)
	}
	return gh, url, files
}

// syncRoot pushes files to main, gives Argo CD the repository and creates
// the staging root (an app of apps); it returns the commit.
func (a *ArgoCD) syncRoot(t *testing.T, gh *githubtest.Server, url string, files map[string]string) string {
	sha := gh.Push("main", "the fleet", files)
	a.AddRepository(t, url, "x-access-token", githubtest.GitPassword)
	var root map[string]any
	if err := yaml.Unmarshal([]byte(files["clusters/staging/root.yaml"]), &root); err != nil {
		t.Fatal(err)
	}
	rootYAML, _ := yaml.Marshal(root)
	a.Objs.Create(providers.ApplicationGVR, string(rootYAML))
	return sha
}
