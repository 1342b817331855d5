package fluxtest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

// Manager is the field manager kustomize-controller applies as.
const Manager = "kustomize-controller"

// Applied waits until the Kustomizations named ("NAMESPACE/NAME"; every
// Kustomization when none is) have applied commit sha and returns, for each
// as "Kustomization/NS/NAME", the objects of its inventory as it applied
// them (clustertest.Applied): what a rendering of the repository at sha
// must produce. Applied means the apply is done: Ready, or its health
// checks running or failed (pods never run here, so a Kustomization that
// waits for a Deployment never becomes Ready).
func (f *Flux) Applied(t testing.TB, sha string, timeout time.Duration, names ...string) map[string][]*unstructured.Unstructured {
	t.Helper()
	ctx := context.Background()
	dyn := clustertest.NewObjects(t, f.Env).Dyn
	ks := dyn.Resource(providers.KustomizationGVR)
	if len(names) == 0 {
		list, err := ks.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range list.Items {
			names = append(names, k.GetNamespace()+"/"+k.GetName())
		}
	}
	mapper := clustertest.Mapper(f.Env.Config)
	out := map[string][]*unstructured.Unstructured{}
	for _, name := range names {
		ns, n, _ := strings.Cut(name, "/")
		k := f.waitApplied(t, ns, n, sha, timeout)
		key := "Kustomization/" + name
		out[key] = []*unstructured.Unstructured{}
		entries, _, _ := unstructured.NestedSlice(k.Object, "status", "inventory", "entries")
		for _, e := range entries {
			m, _ := e.(map[string]any)
			id, _ := m["id"].(string)
			version, _ := m["v"].(string)
			// An entry's id is NAMESPACE_NAME_GROUP_KIND (kustomize-controller's
			// inventory, after cli-utils' ObjMetadata); names hold no "_".
			parts := strings.Split(id, "_")
			if len(parts) != 4 {
				t.Fatalf("%s: inventory entry %q", key, id)
			}
			sent, err := clustertest.ReadApplied(ctx, dyn, mapper, schema.GroupKind{Group: parts[2], Kind: parts[3]}, version, parts[0], parts[1], Manager)
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			out[key] = append(out[key], sent)
		}
	}
	return out
}

// waitApplied waits until Kustomization ns/name has applied sha.
func (f *Flux) waitApplied(t testing.TB, ns, name, sha string, timeout time.Duration) *unstructured.Unstructured {
	t.Helper()
	dyn := clustertest.NewObjects(t, f.Env).Dyn
	deadline := time.Now().Add(timeout)
	for {
		k, err := dyn.Resource(providers.KustomizationGVR).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && applied(k, sha) {
			return k
		}
		if time.Now().After(deadline) {
			st := "not found"
			if err == nil {
				st = fmt.Sprint(k.Object["status"])
			}
			t.Fatalf("Kustomization %s/%s has not applied %.7s after %s: %s", ns, name, sha, timeout, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func applied(k *unstructured.Unstructured, sha string) bool {
	if !strings.HasSuffix(providers.Str(k, "status", "lastAttemptedRevision"), sha) {
		return false
	}
	// The controller patches the status in steps: a condition of this
	// revision may be seen before the inventory of its apply.
	if _, found, _ := unstructured.NestedFieldNoCopy(k.Object, "status", "inventory"); !found {
		return false
	}
	for _, c := range providers.Conditions(k) {
		switch {
		case c.Type == "Ready" && c.Status == "True":
			return strings.HasSuffix(providers.Str(k, "status", "lastAppliedRevision"), sha)
		case c.Type == "Ready" && c.Reason == "HealthCheckFailed":
			return true
		case c.Type == "Reconciling" && strings.HasPrefix(c.Message, "Running health checks for revision") && strings.Contains(c.Message, sha):
			return true // applied; waiting for what it applied to become ready
		}
	}
	return false
}
