package fluxtest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-bot/gitops-bot/examples"
	"github.com/gitops-bot/gitops-bot/forge/github/githubtest"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/render"
	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

// The real Flux syncs the example fleet's staging cluster; what its
// Kustomizations applied, read back from the API server, is what the
// render model says they apply, with the labels
// kustomize-controller adds to every object it applies, once the API
// server's defaults are filled in on both sides (kustomize-controller's
// apply owns a few of them).
func TestAppliedIsWhatTheFleetBuilds(t *testing.T) {
	flux := Start(t, Need(t))
	gh := githubtest.New(t, "acme", "fleet", nil)
	url := gh.WebURL() + "/acme/fleet.git"
	files, err := examples.Files("flux", url)
	if err != nil {
		t.Fatal(err)
	}
	sha := gh.Push("main", "the fleet", files)

	// Bootstrap as `flux bootstrap` does: the GitRepository (with the
	// credentials the fake asks for) and the flux-system Kustomization.
	objs := clustertest.NewObjects(t, flux.Env)
	objs.Create(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, `{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}}`)
	objs.Create(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, fmt.Sprintf(`
apiVersion: v1
kind: Secret
metadata: {name: fleet-auth, namespace: flux-system}
stringData: {username: x-access-token, password: %s}`, githubtest.GitPassword))
	objs.Create(providers.GitRepositoryGVR, fmt.Sprintf(`
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: flux-system}
spec: {interval: 1m, url: %q, ref: {branch: main}, secretRef: {name: fleet-auth}}`, url))
	objs.Create(providers.KustomizationGVR, `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: flux-system, namespace: flux-system}
spec: {interval: 10m, path: ./clusters/staging, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}`)

	applied := flux.Applied(t, sha, 2*time.Minute, "flux-system/flux-system")
	applied["Kustomization/flux-system/frontend"] = flux.Applied(t, sha, 2*time.Minute, "flux-system/frontend")["Kustomization/flux-system/frontend"]

	// What the render model says each Kustomization applies, the
	// generated kustomization of clusters/staging included.
	rendered, err := clustertest.Rendered(context.Background(), files, url, render.Spec{Name: "staging", Dir: "clusters/staging", Tool: "flux"}, "Kustomization/flux-system/flux-system")
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]string{
		"Kustomization/flux-system/flux-system": "clusters/staging",
		"Kustomization/flux-system/frontend":    "apps/overlays/staging/frontend",
	}
	clustertest.SameAsRendered(t, flux.Env, applied, rendered, dirs, func(key string, o *unstructured.Unstructured) {
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels["kustomize.toolkit.fluxcd.io/name"] = strings.Split(key, "/")[2]
		labels["kustomize.toolkit.fluxcd.io/namespace"] = "flux-system"
		o.SetLabels(labels)
	})
}
