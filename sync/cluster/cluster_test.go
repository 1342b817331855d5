package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

var env *envtest.Environment

func TestMain(m *testing.M) { clustertest.Main(m, &env) }

// Several consumers share one connection: each subscriber hears every
// change of the objects the informers watch.
func TestSubscribersShareOneCluster(t *testing.T) {
	clustertest.Need(t, env)
	c, err := New("", clustertest.ReaderConfig(t, env))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	var mu sync.Mutex
	heard := map[string][]Key{}
	for _, name := range []string{"verifier", "owners"} {
		c.Subscribe(func(k Key) {
			mu.Lock()
			defer mu.Unlock()
			heard[name] = append(heard[name], k)
		})
	}
	if _, err := c.Watch(context.Background(), providers.KustomizationGVR, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	objs := clustertest.NewObjects(t, env)
	ns := objs.Namespace()
	objs.Create(providers.KustomizationGVR, fmt.Sprintf(`{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": {"name": "apps", "namespace": %q}, "spec": {"interval": "10m", "path": "./apps", "prune": true,
		"sourceRef": {"kind": "GitRepository", "name": "fleet"}}}`, ns))
	want := Key{Cluster: "", Resource: providers.KustomizationGVR, Namespace: ns, Name: "apps"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		done := contains(heard["verifier"], want) && contains(heard["owners"], want)
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every subscriber heard the new Kustomization: %v", heard)
		}
		time.Sleep(10 * time.Millisecond)
	}
	inf, _ := c.Watch(context.Background(), providers.KustomizationGVR, time.Second)
	if u, ok := c.Get(inf, ns, "apps"); !ok || u.GetName() != "apps" {
		t.Error("the cache does not hold the Kustomization")
	}
}

func contains(keys []Key, k Key) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

// /status reads what a HelmRelease and an Application report running from
// the informer caches, as the real API server (with the real CRDs) keeps
// their status, after the caches' trimming.
func TestObjectReportsWhatRuns(t *testing.T) {
	clustertest.Need(t, env)
	c, err := New("", clustertest.ReaderConfig(t, env))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	set := Set{"": c}
	objs := clustertest.NewObjects(t, env)
	ns := objs.Namespace()
	objs.Create(providers.HelmReleaseGVR, fmt.Sprintf(`{"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
		"metadata": {"name": "podinfo", "namespace": %q}, "spec": {"interval": "10m",
		"chart": {"spec": {"chart": "podinfo", "version": "6.7.1", "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}}}}`, ns))
	objs.SetStatus(providers.HelmReleaseGVR, ns, "podinfo", map[string]any{"observedGeneration": "$generation",
		"lastAttemptedRevision": "6.7.1",
		"history": []any{map[string]any{"name": "podinfo", "namespace": ns, "version": 2, "status": "deployed", "chartName": "podinfo", "chartVersion": "6.7.1",
			"appVersion": "6.7.1", "configDigest": "sha256:0d2b", "digest": "sha256:1e3c", "firstDeployed": "2026-12-01T10:00:00Z", "lastDeployed": "2026-12-05T10:00:00Z"}},
		"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "UpgradeSucceeded", "message": "Helm upgrade succeeded",
			"lastTransitionTime": "2026-12-05T10:00:00Z", "observedGeneration": "$generation"}}})
	objs.Create(providers.ApplicationGVR, fmt.Sprintf(`{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": {"name": "frontend", "namespace": %q}, "spec": {"project": "default",
		"destination": {"server": "https://kubernetes.default.svc", "namespace": "frontend"},
		"source": {"repoURL": "https://github.com/acme/fleet.git", "path": "apps/frontend"}},
		"status": {"summary": {"images": ["ghcr.io/acme/frontend:1.4.3"]}, "sync": {"status": "Synced", "revision": "5f0a2d1c9a3b8e7d6c5b4a39281706f5e4d3c2b1"},
		"health": {"status": "Healthy"}}}`, ns))

	for _, c := range []struct {
		ref  providers.Ref
		want string
	}{
		{providers.Ref{Kind: "HelmRelease", Namespace: ns, Name: "podinfo"}, "[chart podinfo 6.7.1]"},
		{providers.Ref{Kind: "Application", Namespace: ns, Name: "frontend"}, "[ghcr.io/acme/frontend:1.4.3]"},
	} {
		var got string
		deadline := time.Now().Add(10 * time.Second)
		for got != c.want && time.Now().Before(deadline) {
			o, err := set.Object(context.Background(), "", c.ref)
			if err != nil {
				t.Fatal(err)
			}
			if o != nil {
				got = fmt.Sprint(providers.Runs(o))
			}
			time.Sleep(20 * time.Millisecond)
		}
		if got != c.want {
			t.Errorf("%s runs %s, want %s", c.ref, got, c.want)
		}
	}
	// A Kustomization's Deployment: one list by name, as the bot's user.
	objs.Create(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, fmt.Sprintf(`{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": {"name": "frontend", "namespace": %q}, "spec": {"selector": {"matchLabels": {"app": "frontend"}},
		"template": {"metadata": {"labels": {"app": "frontend"}}, "spec": {"containers": [{"name": "frontend", "image": "ghcr.io/acme/frontend:1.4.3"}, {"name": "proxy", "image": "envoyproxy/envoy:v1.31.0"}]}}}}`, ns))
	if imgs, err := set.Images(context.Background(), "", ns, "frontend"); err != nil || fmt.Sprint(imgs) != "[ghcr.io/acme/frontend:1.4.3 envoyproxy/envoy:v1.31.0]" {
		t.Errorf("images: %v %v", imgs, err)
	}
	if imgs, err := set.Images(context.Background(), "", ns, "absent"); err != nil || imgs != nil {
		t.Errorf("an absent Deployment: %v %v", imgs, err)
	}
	if o, err := set.Object(context.Background(), "", providers.Ref{Kind: "HelmRelease", Namespace: ns, Name: "absent"}); o != nil || err != nil {
		t.Errorf("an absent object: %v %v", o, err)
	}
	if _, err := set.Object(context.Background(), "prod", providers.Ref{Kind: "HelmRelease", Name: "x"}); err == nil {
		t.Error("an unknown cluster is no error")
	}
}
