package argocdtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

// Manager is the field manager Argo CD applies as.
const Manager = "argocd-controller"

// WaitSynced waits until Application name is Synced at commit sha (each of
// its sources that is a commit), whatever its health: pods never run here.
func (a *ArgoCD) WaitSynced(t testing.TB, name, sha string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		app, err := a.Objs.Dyn.Resource(providers.ApplicationGVR).Namespace(Namespace).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && syncedAt(app, sha) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Application %s is not synced at %.7s after %s:\n%s", name, sha, timeout, a.Describe(t))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func syncedAt(app *unstructured.Unstructured, sha string) bool {
	if providers.Str(app, "status", "sync", "status") != "Synced" {
		return false
	}
	revs, _, _ := unstructured.NestedStringSlice(app.Object, "status", "sync", "revisions")
	if rev := providers.Str(app, "status", "sync", "revision"); rev != "" {
		revs = append(revs, rev)
	}
	return slices.Contains(revs, sha)
}

// Applied waits until the Applications named (every Application when none
// is) are synced at sha and returns, for each as "Application/NS/NAME",
// the objects it applied, as it sent them (clustertest.Applied): what a
// rendering of the repository at sha must produce.
func (a *ArgoCD) Applied(t testing.TB, sha string, timeout time.Duration, names ...string) map[string][]*unstructured.Unstructured {
	t.Helper()
	ctx := context.Background()
	apps := a.Objs.Dyn.Resource(providers.ApplicationGVR).Namespace(Namespace)
	if len(names) == 0 {
		list, err := apps.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, app := range list.Items {
			names = append(names, app.GetName())
		}
	}
	mapper := clustertest.Mapper(a.Env.Config)
	out := map[string][]*unstructured.Unstructured{}
	for _, name := range names {
		a.WaitSynced(t, name, sha, timeout)
		app, err := apps.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		key := "Application/" + Namespace + "/" + name
		out[key] = []*unstructured.Unstructured{}
		resources, _, _ := unstructured.NestedSlice(app.Object, "status", "resources")
		for _, r := range resources {
			m, _ := r.(map[string]any)
			s := func(k string) string { v, _ := m[k].(string); return v }
			sent, err := clustertest.ReadApplied(ctx, a.Objs.Dyn, mapper, schema.GroupKind{Group: s("group"), Kind: s("kind")}, s("version"), s("namespace"), s("name"), Manager)
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			out[key] = append(out[key], sent)
		}
	}
	return out
}

// Describe is every Application's sync, health, operation and conditions,
// for a failure's message.
func (a *ArgoCD) Describe(t testing.TB) string {
	list, err := a.Objs.Dyn.Resource(providers.ApplicationGVR).Namespace(Namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return "listing the Applications: " + err.Error()
	}
	var lines []string
	for _, app := range list.Items {
		str := func(f ...string) string { return providers.Str(&app, f...) }
		revs, _, _ := unstructured.NestedStringSlice(app.Object, "status", "sync", "revisions")
		l := fmt.Sprintf("Application %s: sync %s at %s%v, health %s %s, operation %s (%s)", app.GetName(),
			str("status", "sync", "status"), str("status", "sync", "revision"), revs,
			str("status", "health", "status"), str("status", "health", "message"),
			str("status", "operationState", "phase"), str("status", "operationState", "message"))
		for _, c := range providers.Conditions(&app) {
			l += fmt.Sprintf("; %s: %s", c.Type, c.Message)
		}
		lines = append(lines, l)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// StatusYAML is an Application's whole status, for a failure's message.
func (a *ArgoCD) StatusYAML(t testing.TB, name string) string {
	app, err := a.Objs.Dyn.Resource(providers.ApplicationGVR).Namespace(Namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	b, _ := yaml.Marshal(app.Object["status"])
	return string(b)
}

// Capture writes Application name as it is now into the directory
// GITOPS_BOT_ARGOCD_CAPTURE names (nothing when unset), as as.yaml: the
// statuses the real controller writes, kept as test data for the rules'
// other tests. The merge commit becomes $M and the repository's address
// repoURL, so that the data does not depend on this run.
func (a *ArgoCD) Capture(t testing.TB, name, as, merge, url, repoURL string) {
	t.Helper()
	dir := os.Getenv("GITOPS_BOT_ARGOCD_CAPTURE")
	if dir == "" {
		return
	}
	app, err := a.Objs.Dyn.Resource(providers.ApplicationGVR).Namespace(Namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keep := map[string]any{"name": app.GetName(), "namespace": app.GetNamespace(), "generation": app.GetGeneration()}
	if refs := app.GetOwnerReferences(); len(refs) > 0 {
		keep["ownerReferences"] = []any{map[string]any{"apiVersion": refs[0].APIVersion, "kind": refs[0].Kind, "name": refs[0].Name, "uid": "0"}}
	}
	app.Object["metadata"] = keep
	b, err := yaml.Marshal(app.Object)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(strings.ReplaceAll(string(b), merge, "$M"), url, repoURL)
	header := "# Written by the real Argo CD (captured by TestRealArgoCD, GITOPS_BOT_ARGOCD_CAPTURE).\n"
	if err := os.WriteFile(filepath.Join(dir, as+".yaml"), []byte(header+text), 0o644); err != nil {
		t.Fatal(err)
	}
}
