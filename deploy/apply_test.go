package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

// build renders a kustomization of deploy/ as unstructured objects.
func build(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	for _, r := range res.Resources() {
		m, err := r.Map()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out
}

// The replicated overlay runs two replicas with the Kubernetes store, a
// PodDisruptionBudget, no volume to share.
func TestReplicatedOverlay(t *testing.T) {
	objs := build(t, "replicated")
	kinds := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		kinds[o.GetKind()] = o
	}
	dep := kinds["Deployment"]
	if n, _, _ := unstructured.NestedFieldNoCopy(dep.Object, "spec", "replicas"); fmt.Sprint(n) != "2" {
		t.Errorf("replicas: %v", n)
	}
	if kinds["PodDisruptionBudget"] == nil || kinds["PersistentVolumeClaim"] != nil {
		t.Error("want a PodDisruptionBudget and no PersistentVolumeClaim")
	}
	vols, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "volumes")
	for _, v := range vols {
		if v.(map[string]any)["persistentVolumeClaim"] != nil {
			t.Errorf("a replica mounts a claim: %v", v)
		}
	}
	cfg, _, _ := unstructured.NestedString(kinds["ConfigMap"].Object, "data", "config.yaml")
	if !strings.Contains(cfg, "namespace: gitops-bot") {
		t.Errorf("the config does not select the Kubernetes store:\n%s", cfg)
	}
	for _, k := range []string{"CustomResourceDefinition", "Role", "RoleBinding"} {
		if kinds[k] == nil {
			t.Errorf("no %s", k)
		}
	}
}

// Every object of the base and of the replicated overlay is accepted by a
// real API server (server-side apply, the namespace first), under the
// restricted Pod Security level.
func TestManifestsApply(t *testing.T) {
	env := clustertest.StartFor(t)
	a := newApplier(t, env)
	for _, dir := range []string{"base", "replicated"} {
		a.apply(t, dir, build(t, dir))
	}
}

// applier server-side applies objects as kubectl would.
type applier struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

func newApplier(t *testing.T, env *envtest.Environment) *applier {
	disc := memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(env.Config))
	return &applier{dyn: dynamic.NewForConfigOrDie(env.Config), mapper: restmapper.NewDeferredDiscoveryRESTMapper(disc)}
}

// apply applies objs, cluster-wide kinds (the namespace, labelled for the
// restricted Pod Security level, and CRDs) first.
func (a *applier) apply(t *testing.T, what string, objs []*unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	ordered := append([]*unstructured.Unstructured{}, objs...)
	rank := func(o *unstructured.Unstructured) int {
		switch o.GetKind() {
		case "Namespace":
			return 0
		case "CustomResourceDefinition":
			return 1
		}
		return 2
	}
	sort.SliceStable(ordered, func(i, j int) bool { return rank(ordered[i]) < rank(ordered[j]) })
	for _, o := range ordered {
		if o.GetKind() == "Namespace" {
			labels := o.GetLabels()
			if labels == nil {
				labels = map[string]string{}
			}
			labels["pod-security.kubernetes.io/enforce"] = "restricted"
			o.SetLabels(labels)
		}
		gvk := o.GroupVersionKind()
		var m *meta.RESTMapping
		var err error
		for range 50 { // a CRD's kind is served a moment after it is created
			if m, err = a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err == nil {
				break
			}
			a.mapper.Reset()
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("%s: %s %v", what, gvk, err)
		}
		body, _ := json.Marshal(o.Object)
		var c dynamic.ResourceInterface = a.dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			if o.GetNamespace() == "" {
				o.SetNamespace("gitops-bot") // as helm install --namespace gitops-bot does
				body, _ = json.Marshal(o.Object)
			}
			c = a.dyn.Resource(m.Resource).Namespace(o.GetNamespace())
		}
		force := true
		if _, err := c.Patch(ctx, o.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: "deploy-test", Force: &force}); err != nil {
			t.Errorf("%s: %s %s: %v", what, o.GetKind(), o.GetName(), err)
		}
	}
}
