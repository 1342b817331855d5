package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// ByID indexes objects as KIND/NAMESPACE/NAME, each as JSON with sorted
// keys, so that two sets compare object by object whatever decoded them.
func ByID(objs []*unstructured.Unstructured) map[string]string {
	out := map[string]string{}
	for _, o := range objs {
		b, _ := json.Marshal(o.Object)
		out[fmt.Sprintf("%s/%s/%s", o.GetKind(), o.GetNamespace(), o.GetName())] = string(b)
	}
	return out
}

// DiffByID says how two indexed sets differ, "" when they do not.
func DiffByID(got, want map[string]string) string {
	var lines []string
	for id, w := range want {
		g, ok := got[id]
		switch {
		case !ok:
			lines = append(lines, "missing "+id)
		case g != w:
			lines = append(lines, fmt.Sprintf("%s differs:\n  got  %s\n  want %s", id, g, w))
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			lines = append(lines, "extra "+id)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// Defaulted is obj as the API server would keep it, every default filled
// in (a server-side dry-run create under a generated name), less what the
// server adds of its own (uid, timestamps, managed fields, status). Two
// objects that the API server would store alike are Defaulted alike: the
// way to compare a rendering with what a controller applied when the
// controller owns some defaults (kustomize-controller's apply takes over
// a Deployment's strategy and a Namespace's finalizers).
func Defaulted(ctx context.Context, dyn dynamic.Interface, mapper meta.RESTMapper, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	gvk := obj.GroupVersionKind()
	mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	probe := obj.DeepCopy()
	name := probe.GetName()
	probe.SetName("")
	probe.SetGenerateName("dry-run-")
	probe.SetResourceVersion("")
	var res dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		res = dyn.Resource(mapping.Resource).Namespace(probe.GetNamespace())
	}
	out, err := res.Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		return nil, fmt.Errorf("%s %s: dry-run create: %w", gvk.Kind, name, err)
	}
	// What the server derived from the generated name (a Namespace's
	// kubernetes.io/metadata.name label) takes the real one.
	labels := out.GetLabels()
	for k, v := range labels {
		if v == out.GetName() {
			labels[k] = name
		}
	}
	out.SetLabels(labels)
	out.SetName(name)
	out.SetGenerateName(obj.GetGenerateName())
	for _, f := range []string{"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"} {
		unstructured.RemoveNestedField(out.Object, "metadata", f)
	}
	unstructured.RemoveNestedField(out.Object, "status")
	annotations := out.GetAnnotations()
	delete(annotations, "kubectl.kubernetes.io/last-applied-configuration")
	if len(annotations) == 0 {
		annotations = nil
	}
	out.SetAnnotations(annotations)
	return out, nil
}

// DefaultedAll is Defaulted of each object.
func DefaultedAll(ctx context.Context, env *envtest.Environment, objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	dyn := dynamic.NewForConfigOrDie(env.Config)
	mapper := Mapper(env.Config)
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		d, err := Defaulted(ctx, dyn, mapper, o)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// DiffApplied says how what an applier applied differs from what it should
// have, both as the API server would store them ("" when alike).
func DiffApplied(ctx context.Context, env *envtest.Environment, applied, want []*unstructured.Unstructured) (string, error) {
	got, err := DefaultedAll(ctx, env, applied)
	if err != nil {
		return "", err
	}
	if want, err = DefaultedAll(ctx, env, want); err != nil {
		return "", err
	}
	return DiffByID(ByID(got), ByID(want)), nil
}

// SameAsRendered fails t for each applier (its key, and the directory it
// renders, for the message) whose applied objects differ from what the
// render says it applies; stamp first adds to each rendered object what
// the controller adds to what it applies (labels, a tracking annotation).
func SameAsRendered(t testing.TB, env *envtest.Environment, applied, rendered map[string][]*unstructured.Unstructured, dirs map[string]string, stamp func(key string, o *unstructured.Unstructured)) {
	t.Helper()
	keys := make([]string, 0, len(dirs))
	for k := range dirs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		want := rendered[key]
		for _, o := range want {
			stamp(key, o)
		}
		if len(applied[key]) == 0 {
			t.Fatalf("%s applied nothing", key)
		}
		d, err := DiffApplied(context.Background(), env, applied[key], want)
		if err != nil {
			t.Fatal(err)
		}
		if d != "" {
			t.Errorf("%s applied other than the model renders of %s:\n%s", key, dirs[key], d)
		}
	}
}
