package cluster

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"

	"github.com/gitops-bot/gitops-bot/providers/argocd"
)

// The informers keep of each object only the fields the verification
// rules (providers/argocd, providers/flux, sync/verify) and the owner
// lookup read: a watched cluster may hold tens of thousands of Argo CD and
// Flux objects, and their managed fields, histories, inventories' versions
// and Helm values are most of their size. A rule that starts reading a new
// field adds it here (TestTrimKeepsWhatIsRead guards the known ones).
//
// Two lists are folded, since an entry of a list costs a map: what an
// applier applies (a Kustomization's inventory, an Application's
// status.resources) becomes one string of inventory ids under ownedKey
// (read with Owned), and an Application keeps of status.resources only the
// unhealthy ones, which a Degraded verdict names.

// ownedKey is the top-level key of a trimmed object holding its owned ids.
const ownedKey = "owned"

// keep is the shape of what is kept: each key kept with its own shape; a
// nil shape keeps the whole value. A list is kept element by element.
type keep map[string]keep

var (
	conditions = keep{"type": nil, "status": nil, "reason": nil, "message": nil, "observedGeneration": nil}

	metadata = keep{"name": nil, "namespace": nil, "resourceVersion": nil, "generation": nil,
		"ownerReferences": {"apiVersion": nil, "kind": nil, "name": nil}} // an Application's ApplicationSet

	// What of an Application's source is read (discovery, revisions);
	// whether Argo CD compared the current sources is decided on the whole
	// (trimApplication).
	argoSource = keep{"repoURL": nil, "path": nil, "ref": nil, "chart": nil, "helm": {"valueFiles": nil}, "directory": {"recurse": nil}}

	byKind = map[string]keep{
		"Application": {
			"spec":      {"source": argoSource, "sources": argoSource, "sourceHydrator": nil},
			"operation": {}, // only whether one is requested
			"status": {
				"sync":         {"status": nil, "revision": nil, "revisions": nil},
				"health":       {"status": nil, "message": nil},
				"reconciledAt": nil,
				"sourceType":   nil, // a directory source reads only its own files
				"sourceTypes":  nil,
				"conditions":   conditions,
				"operationState": {
					"phase": nil, "message": nil, "finishedAt": nil, "retryCount": nil,
					"operation":  {"sync": {"revision": nil, "revisions": nil}},
					"syncResult": {"revision": nil, "revisions": nil},
				},
				"sourceHydrator": nil,
				"summary":        {"images": nil}, // what it runs, for /status
			},
		},
		"Kustomization": {
			"spec":   {"path": nil, "sourceRef": nil, "suspend": nil},
			"status": {"observedGeneration": nil, "conditions": conditions, "lastAppliedRevision": nil, "lastAttemptedRevision": nil},
		},
		"ApplicationSet": {
			"status": {"applicationStatus": {"application": nil, "status": nil, "step": nil, "message": nil}},
		},
		"HelmRelease": {
			"spec": {"releaseName": nil, "targetNamespace": nil, "suspend": nil},
			// The chart version it runs, for /status.
			"status": {"observedGeneration": nil, "conditions": conditions, "lastAttemptedRevision": nil, "lastAppliedRevision": nil,
				"history": {"chartName": nil, "chartVersion": nil, "status": nil}},
		},
	}
	// Sources: GitRepository, OCIRepository, HelmRepository, and any other kind.
	source = keep{
		"spec":   {"url": nil, "suspend": nil},
		"status": {"observedGeneration": nil, "conditions": conditions, "artifact": {"revision": nil, "metadata": nil}},
	}
)

// Trim is the informers' transform (cache.TransformFunc). Objects that are
// not unstructured (a deletion's final state unknown) pass unchanged.
func Trim(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	shape, ok := byKind[u.GetKind()]
	if !ok {
		shape = source
	}
	out := map[string]any{"apiVersion": u.Object["apiVersion"], "kind": u.Object["kind"]}
	if m, ok := u.Object["metadata"]; ok {
		out["metadata"] = prune(m, metadata)
	}
	for k, s := range shape {
		if v, ok := u.Object[k]; ok {
			out[k] = prune(v, s)
		}
	}
	if ids := Owned(u); ids != "" {
		out[ownedKey] = ids
	}
	if u.GetKind() == "Application" {
		trimApplication(u.Object, out)
	}
	keepConditions(out, u.GetKind() == "Application")
	return &unstructured.Unstructured{Object: out}, nil
}

// trimApplication keeps the Application facts a generic shape cannot.
func trimApplication(in, out map[string]any) {
	// Argo CD compared the current sources when status.sync.comparedTo
	// equals the spec's: decided here on the whole sources (inline values
	// included), kept as the same trimmed value on both sides or, when
	// they differ, a marker that equals nothing.
	cmp := map[string]any{}
	specMap, _ := in["spec"].(map[string]any)
	_, hydrated := specMap["sourceHydrator"]
	for _, f := range []string{"source", "sources"} {
		spec, _, _ := unstructured.NestedFieldNoCopy(in, "spec", f)
		was, _, _ := unstructured.NestedFieldNoCopy(in, "status", "sync", "comparedTo", f)
		switch {
		case spec == nil && argocd.SameSource(nil, was):
		case hydrated && f == "source":
			// The source hydrator's sync source, compared by its path.
			cmp[f] = prune(was, argoSource)
		case argocd.SameSource(spec, was):
			cmp[f], _, _ = unstructured.NestedFieldNoCopy(out, "spec", f)
		default:
			cmp[f] = "differs from the spec"
		}
	}
	if _, compared, _ := unstructured.NestedFieldNoCopy(in, "status", "sync", "comparedTo"); compared && len(cmp) > 0 {
		unstructured.SetNestedField(out, cmp, "status", "sync", "comparedTo") //nolint:errcheck // out's status is a map when cmp is set
	}
	// The operation's own revision is read only when its result has none.
	if op, ok, _ := unstructured.NestedMap(out, "status", "operationState", "syncResult"); ok && len(op) > 0 {
		unstructured.RemoveNestedField(out, "status", "operationState", "operation")
	}
	// Only the unhealthy resources are named in a verdict.
	res, _, _ := unstructured.NestedSlice(in, "status", "resources")
	var sick []any
	for _, r := range res {
		m, _ := r.(map[string]any)
		h, _ := m["health"].(map[string]any)
		if s, _ := h["status"].(string); s != "" && s != "Healthy" {
			sick = append(sick, prune(m, keep{"kind": nil, "namespace": nil, "name": nil, "health": {"status": nil, "message": nil}}))
		}
	}
	if len(sick) > 0 {
		unstructured.SetNestedSlice(out, sick, "status", "resources") //nolint:errcheck
	}
}

// keepConditions keeps the condition types the rules read: Ready,
// Reconciling and Stalled of Flux objects, the errors of an Application.
func keepConditions(out map[string]any, argo bool) {
	conds, ok, _ := unstructured.NestedSlice(out, "status", "conditions")
	if !ok {
		return
	}
	kept := conds[:0]
	for _, c := range conds {
		t, _ := c.(map[string]any)["type"].(string)
		if argo && strings.HasSuffix(t, "Error") || !argo && (t == "Ready" || t == "Reconciling" || t == "Stalled") {
			kept = append(kept, c)
		}
	}
	unstructured.SetNestedSlice(out, kept, "status", "conditions") //nolint:errcheck // status is a map: conditions were found in it
}

// Owned returns the inventory ids ("<namespace>_<name>_<group>_<kind>", one
// per line) of what an applier applies: a Kustomization's inventory, an
// Application's status.resources, or what Trim folded them into.
func Owned(u *unstructured.Unstructured) string {
	if s, ok := u.Object[ownedKey].(string); ok {
		return s
	}
	var b strings.Builder
	line := func(id string) {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(id)
	}
	entries, _, _ := unstructured.NestedSlice(u.Object, "status", "inventory", "entries")
	for _, e := range entries {
		m, _ := e.(map[string]any)
		if id, _ := m["id"].(string); id != "" {
			line(id)
		}
	}
	res, _, _ := unstructured.NestedSlice(u.Object, "status", "resources")
	for _, r := range res {
		m, _ := r.(map[string]any)
		s := func(k string) string { v, _ := m[k].(string); return v }
		if s("kind") != "" && s("name") != "" {
			line(s("namespace") + "_" + s("name") + "_" + s("group") + "_" + s("kind"))
		}
	}
	return b.String()
}

var _ cache.TransformFunc = Trim

func prune(v any, shape keep) any {
	if shape == nil {
		return v
	}
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(shape))
		for k, s := range shape {
			if child, ok := t[k]; ok {
				out[k] = prune(child, s)
			}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = prune(e, shape)
		}
		return out
	}
	return v
}
