package clustertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// Applied is what an applier sent for a live object, with what the API
// server added (defaults, metadata, status) dropped:
//   - applied server-side (Flux's kustomize-controller; Argo CD with
//     ServerSideApply=true): the fields the applier's field manager owns
//     by its Apply operation;
//   - applied client-side (Argo CD's default, kubectl's three-way merge):
//     the kubectl.kubernetes.io/last-applied-configuration annotation,
//     which holds the object exactly as sent.
//
// A rendering that is right equals this, field for field, but for one
// thing: a list item named by key fields the API server defaulted keeps
// them (a container port's protocol: TCP), since the field set names the
// item by them.
func Applied(live *unstructured.Unstructured, manager string) (*unstructured.Unstructured, error) {
	for _, mf := range live.GetManagedFields() {
		if mf.Manager != manager || mf.Operation != metav1.ManagedFieldsOperationApply || mf.FieldsV1 == nil || mf.Subresource != "" {
			continue
		}
		set := &fieldpath.Set{}
		if err := set.FromJSON(bytes.NewReader(mf.FieldsV1.Raw)); err != nil {
			return nil, fmt.Errorf("%s %s: managed fields of %s: %w", live.GetKind(), live.GetName(), manager, err)
		}
		obj := live.DeepCopy().Object
		kept, _ := prune(obj, set).(map[string]any)
		if kept == nil {
			kept = map[string]any{}
		}
		// The identity is the object's, never an owned field.
		out := &unstructured.Unstructured{Object: kept}
		out.SetAPIVersion(live.GetAPIVersion())
		out.SetKind(live.GetKind())
		out.SetName(live.GetName())
		out.SetNamespace(live.GetNamespace())
		return out, nil
	}
	if last := live.GetAnnotations()["kubectl.kubernetes.io/last-applied-configuration"]; last != "" {
		out := &unstructured.Unstructured{}
		if err := json.Unmarshal([]byte(last), &out.Object); err != nil {
			return nil, fmt.Errorf("%s %s: last-applied-configuration: %w", live.GetKind(), live.GetName(), err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s %s/%s: no fields applied by %s and no last-applied-configuration", live.GetKind(), live.GetNamespace(), live.GetName(), manager)
}

// prune keeps of v what set names. The walk follows the field set format of
// structured-merge-diff (fieldpath/serialize.go): a map's fields by name,
// a list's items by key fields, value or index. A member with no children
// is a leaf, kept whole; one with children ("." beside its fields) is kept
// only for those.
func prune(v any, set *fieldpath.Set) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range t {
			pe := fieldpath.PathElement{FieldName: &k}
			if child, ok := set.Children.Get(pe); ok {
				if p := prune(x, child); p != nil {
					out[k] = p
				} else if set.Members.Has(pe) {
					out[k] = map[string]any{} // owned, and empty as sent
				}
			} else if set.Members.Has(pe) {
				out[k] = x
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		var out []any
		for i, x := range t {
			pe, ok := elementOf(set, i, x)
			if !ok {
				continue
			}
			if child, ok := set.Children.Get(pe); !ok && set.Members.Has(pe) {
				out = append(out, x)
			} else if ok {
				// An item named by its key keeps its key fields.
				p, _ := prune(x, child).(map[string]any)
				if p == nil {
					p = map[string]any{}
				}
				if pe.Key != nil {
					for _, f := range *pe.Key {
						p[f.Name] = f.Value.Unstructured()
					}
				}
				out = append(out, p)
			}
		}
		return out
	}
	return v
}

// elementOf finds the path element of set that names the i-th item x of a list.
func elementOf(set *fieldpath.Set, i int, x any) (fieldpath.PathElement, bool) {
	var found fieldpath.PathElement
	ok := false
	match := func(pe fieldpath.PathElement) {
		if ok {
			return
		}
		switch {
		case pe.Index != nil:
			ok = *pe.Index == i
		case pe.Value != nil:
			ok = value.Equals(*pe.Value, value.NewValueInterface(x))
		case pe.Key != nil:
			m, isMap := x.(map[string]any)
			ok = isMap
			for _, f := range *pe.Key {
				ok = ok && m[f.Name] != nil && value.Equals(f.Value, value.NewValueInterface(m[f.Name]))
			}
		}
		if ok {
			found = pe
		}
	}
	set.Members.Iterate(match)
	set.Children.Iterate(match)
	return found, ok
}

// Mapper maps kinds to resources through the API server's discovery.
func Mapper(cfg *rest.Config) meta.RESTMapper {
	return restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(cfg)))
}

// ReadApplied reads a live object, named as an applier's status names it
// (group, kind, version, namespace, name), and returns what manager
// applied of it (Applied).
func ReadApplied(ctx context.Context, dyn dynamic.Interface, mapper meta.RESTMapper, gk schema.GroupKind, version, namespace, name, manager string) (*unstructured.Unstructured, error) {
	mapping, err := mapper.RESTMapping(gk, version)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", gk, err)
	}
	live, err := dyn.Resource(mapping.Resource).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", gk.Kind, namespace, name, err)
	}
	return Applied(live, manager)
}
