package verify

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/sync/cluster"
	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

func TestOwnersFromTheCluster(t *testing.T) {
	h := newHarness(t)
	ns := h.ns
	h.fluxSource() // Kustomization "apps" applying ./clusters/staging from the harness's repository
	h.kustomization(map[string]any{"observedGeneration": "$generation", "lastAppliedRevision": "main@sha1:" + shaM,
		"inventory": map[string]any{"entries": []any{
			map[string]any{"id": "web-" + ns + "_web-" + ns + "_apps_Deployment", "v": "v1"},
			map[string]any{"id": ns + "_podinfo-" + ns + "_helm.toolkit.fluxcd.io_HelmRelease", "v": "v2"},
		}}})
	h.objs.Create(providers.HelmReleaseGVR, fmt.Sprintf(`{"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
		"metadata": {"name": "podinfo-%s", "namespace": %q}, "spec": {"interval": "5m", "targetNamespace": "podinfo",
		"chart": {"spec": {"chart": "podinfo", "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}}}}`, ns, ns))
	h.argoRoot()
	h.appStatus("root", "Synced", "Healthy", []string{shaM}, nil, map[string]any{"resources": []any{
		map[string]any{"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "api", "name": "api-" + ns},
	}})
	v, _ := h.run()
	ctx := context.Background()

	var owners []cluster.Owner
	waitFor(t, "the caches", func() bool {
		owners, _ = v.clusters.Owners(ctx, "", "Deployment", "api-"+ns)
		return len(owners) == 1
	})
	if o := owners[0]; o.Ref.Kind != "Application" || o.Ref.Name != "root" || o.Path != "clusters/staging" || o.RepoURL != h.repo.CloneURL || o.WorkloadNamespace != "api" {
		t.Errorf("Argo CD owner %+v", o)
	}
	owners, err := v.clusters.Owners(ctx, "", "Deployment", "web-"+ns)
	if err != nil || len(owners) != 1 {
		t.Fatalf("Flux owners %+v, %v", owners, err)
	}
	if o := owners[0]; o.Ref.Kind != "Kustomization" || o.Path != "clusters/staging" || o.WorkloadNamespace != "web-"+ns || !providers.SameRepo(o.RepoURL, h.repo.CloneURL) || o.Revision != "main@sha1:"+shaM {
		t.Errorf("Flux owner %+v", o)
	}
	owners, _ = v.clusters.Owners(ctx, "", "Deployment", "podinfo-"+ns)
	if len(owners) != 1 || owners[0].Ref.Kind != "HelmRelease" || owners[0].Path != "clusters/staging" || owners[0].WorkloadNamespace != "podinfo" {
		t.Errorf("HelmRelease owner %+v", owners)
	}
	if owners, _ := v.clusters.Owners(ctx, "", "Deployment", "nobody-"+ns); len(owners) != 0 {
		t.Errorf("owners of nothing: %+v", owners)
	}
	if _, err := v.clusters.Owners(ctx, "prod", "Deployment", "web"); err == nil {
		t.Error("an unknown cluster answered")
	}
}

// BenchmarkOwners: finding the owner of a workload among 1,000 GitOps
// objects once the informer caches are warm.
func BenchmarkOwners(b *testing.B) {
	clustertest.Need(b, env)
	objs := clustertest.NewObjects(b, env)
	ns := objs.Namespace()
	for i := 0; i < 1000; i++ {
		objs.Create(providers.KustomizationGVR, fmt.Sprintf(`{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
			"metadata": {"name": "k%d", "namespace": %q}, "spec": {"interval": "10m", "path": "./apps/%d", "prune": true,
			"sourceRef": {"kind": "GitRepository", "name": "fleet"}}}`, i, ns, i))
		objs.SetStatus(providers.KustomizationGVR, ns, fmt.Sprintf("k%d", i), map[string]any{"inventory": map[string]any{"entries": []any{
			map[string]any{"id": fmt.Sprintf("app%d_app%d_apps_Deployment", i, i), "v": "v1"},
			map[string]any{"id": fmt.Sprintf("app%d_app%d__Service", i, i), "v": "v1"},
		}}})
	}
	c, err := cluster.New("", env.Config)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Stop()
	ctx := context.Background()
	name := fmt.Sprintf("app%d", 777)
	deadline := time.Now().Add(30 * time.Second)
	for {
		owners, _ := c.Owners(ctx, "Deployment", name, 10*time.Second)
		if len(owners) == 1 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("caches never held the owner")
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.ResetTimer()
	for b.Loop() {
		if owners, _ := c.Owners(ctx, "Deployment", name, time.Second); len(owners) != 1 {
			b.Fatalf("owners %+v", owners)
		}
	}
}

// Without an inventory entry, the workload's own labels say who applies it.
func TestOwnersFromWorkloadLabels(t *testing.T) {
	h := newHarness(t)
	ns := h.ns
	h.fluxSource()
	deployments := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	deploy := func(name, labels, annotations string) {
		h.objs.Create(deployments, fmt.Sprintf(`{"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": {"name": %q, "namespace": %q, "labels": {%s}, "annotations": {%s}},
			"spec": {"selector": {"matchLabels": {"app": "x"}}, "template": {"metadata": {"labels": {"app": "x"}},
			"spec": {"containers": [{"name": "x", "image": "nginx:1"}]}}}}`, name, ns, labels, annotations))
	}
	deploy("flux-"+ns, fmt.Sprintf(`"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": %q`, ns), "")
	deploy("helm-"+ns, `"helm.toolkit.fluxcd.io/name": "podinfo", "helm.toolkit.fluxcd.io/namespace": "flux-system"`, "")
	deploy("argo-"+ns, "", fmt.Sprintf(`"argocd.argoproj.io/tracking-id": "root:apps/Deployment:%s/argo-%s"`, ns, ns))
	deploy("plain-"+ns, `"app.kubernetes.io/managed-by": "Helm"`, "")
	v, _ := h.run()
	ctx := context.Background()

	var owners []cluster.Owner
	waitFor(t, "the caches", func() bool {
		owners, _ = v.clusters.Owners(ctx, "", "Deployment", "flux-"+ns)
		return len(owners) == 1
	})
	if o := owners[0]; o.Ref.Kind != "Kustomization" || o.Ref.Name != "apps" || o.Path != "clusters/staging" || !providers.SameRepo(o.RepoURL, h.repo.CloneURL) {
		t.Errorf("Flux label owner %+v", o)
	}
	if owners, _ := v.clusters.Owners(ctx, "", "Deployment", "helm-"+ns); len(owners) != 1 || owners[0].Ref.Kind != "HelmRelease" || owners[0].Ref.Name != "podinfo" {
		t.Errorf("HelmRelease label owner %+v", owners)
	}
	if owners, _ := v.clusters.Owners(ctx, "", "Deployment", "argo-"+ns); len(owners) != 1 || owners[0].Ref.Kind != "Application" || owners[0].Ref.Name != "root" {
		t.Errorf("Argo CD annotation owner %+v", owners)
	}
	_, err := v.clusters.Owners(ctx, "", "Deployment", "plain-"+ns)
	var ng *cluster.NotGitOps
	if !errors.As(err, &ng) || ng.ManagedBy != "Helm" || ng.Namespace != ns {
		t.Errorf("not GitOps: %v", err)
	}
}
