package providers

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Observation is what one object's status says about its reconciliation, in
// a form both providers share. A missing or stale status is an observation
// that is not Current, never an error.
type Observation struct {
	// Current: the controller has reconciled the object's current spec.
	Current bool
	// Revisions are the commits of this repository the object reports as
	// applied (one per source that tracks this repository).
	Revisions []string
	// Attempted is the commit the controller last tried, when it says so.
	Attempted string
	// Ready: synced and healthy at Revisions.
	Ready bool
	// Failed: the last attempt failed for good (not a retryable wait).
	Failed bool
	// Retrying: the last attempt failed and the controller retries by
	// itself; the failure is final only when it lasts (see verify).
	Retrying bool
	// ComparedAt, for a failure that names no revision (Argo CD's
	// ComparisonError), is when the controller last compared: a failure
	// seen before the verification began may be of an older commit.
	ComparedAt time.Time
	// Suspended says why the object will not move by itself (Flux
	// spec.suspend, an Argo CD health of Suspended): no verdict will come.
	Suspended string
	// For the check run's table.
	Sync, Health, Message string
}

// Kinds the bot reads, with the resource names its informers watch.
var (
	KustomizationGVR  = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
	HelmReleaseGVR    = schema.GroupVersionResource{Group: "helm.toolkit.fluxcd.io", Version: "v2", Resource: "helmreleases"}
	GitRepositoryGVR  = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
	HelmRepositoryGVR = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "helmrepositories"}
	OCIRepositoryGVR  = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "ocirepositories"}
	ApplicationGVR    = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}
	// ApplicationSetGVR: read for the progressive sync holding an Application back.
	ApplicationSetGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applicationsets"}
)

// Watched are the kinds the bot generates and verifies, with the
// resources its informers watch (the start-up check lists each).
var Watched = []struct {
	Kind string
	GVR  schema.GroupVersionResource
}{
	{"Kustomization", KustomizationGVR}, {"HelmRelease", HelmReleaseGVR}, {"GitRepository", GitRepositoryGVR},
	{"HelmRepository", HelmRepositoryGVR}, {"OCIRepository", OCIRepositoryGVR}, {"Application", ApplicationGVR},
}

// GVRForKind maps a kind the bot generates or verifies to its resource.
func GVRForKind(kind string) (schema.GroupVersionResource, bool) {
	for _, w := range Watched {
		if w.Kind == kind {
			return w.GVR, true
		}
	}
	return schema.GroupVersionResource{}, false
}

var (
	shaRE    = regexp.MustCompile(`(?:^|[^0-9a-f])([0-9a-f]{40})(?:$|[^0-9a-f])`)
	digestRE = regexp.MustCompile(`sha256:[0-9a-f]+`)
)

// RevisionSHA extracts the commit from the revision strings controllers
// write: "main@sha1:<sha>", "sha1:<sha>", "main/<sha>" or a bare SHA.
func RevisionSHA(rev string) string {
	// An OCI artifact's digest ("latest@sha256:...") is no commit, whatever
	// its first 40 digits look like.
	rev = digestRE.ReplaceAllString(rev, "")
	m := shaRE.FindAllStringSubmatch(rev, -1)
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1][1]
}

// Condition is a status condition, read nil-safely.
type Condition struct {
	Type, Status, Reason, Message string
	// ObservedGeneration is the generation the condition speaks of (0 when
	// the condition does not say).
	ObservedGeneration int64
}

// Conditions reads status.conditions.
func Conditions(obj *unstructured.Unstructured) []Condition {
	raw, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	out := make([]Condition, 0, len(raw))
	for _, r := range raw {
		m, _ := r.(map[string]any)
		s := func(k string) string { v, _ := m[k].(string); return v }
		gen, _, _ := unstructured.NestedInt64(m, "observedGeneration")
		if f, ok := m["observedGeneration"].(float64); ok {
			gen = int64(f)
		}
		out = append(out, Condition{Type: s("type"), Status: s("status"), Reason: s("reason"), Message: s("message"), ObservedGeneration: gen})
	}
	return out
}

// FindCondition returns the condition of a type, if present.
func FindCondition(cs []Condition, typ string) (Condition, bool) {
	for _, c := range cs {
		if c.Type == typ {
			return c, true
		}
	}
	return Condition{}, false
}

// Str reads a nested string, "" when absent.
func Str(obj *unstructured.Unstructured, fields ...string) string {
	s, _, _ := unstructured.NestedString(obj.Object, fields...)
	return s
}

// Int reads a nested integer, 0 when absent. Objects decoded from plain
// JSON or YAML carry float64 numbers; both forms are read.
func Int(obj *unstructured.Unstructured, fields ...string) int64 {
	v, _, _ := unstructured.NestedFieldNoCopy(obj.Object, fields...)
	switch n := v.(type) {
	case int64:
		return n
	case int:
		return int64(n)
	case float64:
		return int64(n)
	}
	return 0
}

// SameRepo compares Git URLs the way a person would: scheme, user, a
// trailing ".git" or "/" and the host's letter case do not matter, and the
// scp-like form "git@host:owner/repo" equals "https://host/owner/repo".
func SameRepo(a, b string) bool {
	na, nb := normalizeRepoURL(a), normalizeRepoURL(b)
	return na != "" && na == nb
}

func normalizeRepoURL(u string) string {
	u = strings.TrimSpace(u)
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	} else if at := strings.Index(u, "@"); at >= 0 && strings.Contains(u[at:], ":") {
		u = strings.Replace(u[at+1:], ":", "/", 1) // git@host:owner/repo
	}
	if at := strings.Index(u, "@"); at >= 0 && at < strings.Index(u+"/", "/") {
		u = u[at+1:]
	}
	u = strings.TrimSuffix(strings.TrimSuffix(u, "/"), ".git")
	host, path, _ := strings.Cut(u, "/")
	if i := strings.Index(host, ":"); i >= 0 {
		host = host[:i] // ssh://git@github.com:22/owner/repo
	}
	if path == "" {
		return ""
	}
	return strings.ToLower(host) + "/" + path
}

// PathContains reports whether the directory dir (as written in a
// Kustomization or Application, "./clusters/x" or "clusters/x") contains file.
func PathContains(dir, file string) bool {
	dir = strings.Trim(strings.TrimPrefix(strings.TrimSpace(dir), "./"), "/")
	if dir == "" || dir == "." {
		return true
	}
	return strings.HasPrefix(file, dir+"/")
}

// RefOf names an object read from a cluster.
func RefOf(u *unstructured.Unstructured) Ref {
	return Ref{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
}

// Runs says what an object reports running, for /status: an Argo CD
// Application's images (status.summary.images) and a HelmRelease's chart
// version (its latest release in status.history; v2beta1's
// lastAppliedRevision). Nil when the object says nothing of it.
func Runs(obj *unstructured.Unstructured) []string {
	switch obj.GetKind() {
	case "Application":
		images, _, _ := unstructured.NestedStringSlice(obj.Object, "status", "summary", "images")
		return images
	case "HelmRelease":
		history, _, _ := unstructured.NestedSlice(obj.Object, "status", "history")
		if len(history) > 0 {
			if h, ok := history[0].(map[string]any); ok && h["chartVersion"] != nil {
				return []string{fmt.Sprintf("chart %v %v", h["chartName"], h["chartVersion"])}
			}
		}
		if v := Str(obj, "status", "lastAppliedRevision"); v != "" {
			return []string{"chart version " + v}
		}
	}
	return nil
}
