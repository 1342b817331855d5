package argocd

import (
	"fmt"
	"path"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitops-bot/gitops-bot/providers"
)

// Observe reads an Application's status. repoURL is the repository whose
// commits are being verified: only the sources that track it contribute
// Revisions (a chart source reports a chart version, never our commit).
func Observe(obj *unstructured.Unstructured, repoURL string) providers.Observation {
	var o providers.Observation
	st, ok, _ := unstructured.NestedMap(obj.Object, "status")
	if !ok || len(st) == 0 {
		o.Sync, o.Health, o.Message = "Unknown", "Unknown", "no status yet"
		return o
	}
	o.Sync = orUnknown(providers.Str(obj, "status", "sync", "status"))
	o.Health = orUnknown(providers.Str(obj, "status", "health", "status"))
	o.Message = providers.Str(obj, "status", "health", "message")

	// Current: Argo CD compared against the sources the spec asks for now.
	_, hydrated, _ := unstructured.NestedMap(obj.Object, "spec", "sourceHydrator")
	if hydrated {
		o.Current = compared(obj)
	} else {
		o.Current = sameSources(obj)
	}
	if !o.Current {
		o.Message = "Argo CD has not compared the current spec yet"
	}

	// Revisions of the sources that track repoURL; reported: the
	// revisions as Argo CD reports them (a hydrated commit for the source
	// hydrator, whose dry commit is what is compared with the merge).
	var reported []string
	hydrating := "" // the source hydrator's work still pending
	sources, _, _ := unstructured.NestedSlice(obj.Object, "spec", "sources")
	if hydrated {
		if rev := providers.Str(obj, "status", "sync", "revision"); rev != "" {
			reported = []string{rev}
		}
		hydrating = hydrate(obj, repoURL, &o)
	} else if len(sources) > 0 {
		revs, _, _ := unstructured.NestedStringSlice(obj.Object, "status", "sync", "revisions")
		for i, s := range sources {
			m, _ := s.(map[string]any)
			url, _ := m["repoURL"].(string)
			if providers.SameRepo(url, repoURL) && i < len(revs) {
				o.Revisions = append(o.Revisions, revs[i])
			}
		}
	} else if providers.SameRepo(providers.Str(obj, "spec", "source", "repoURL"), repoURL) {
		if rev := providers.Str(obj, "status", "sync", "revision"); rev != "" {
			o.Revisions = []string{rev}
		}
	}
	if reported == nil {
		reported = o.Revisions
	}

	phase := providers.Str(obj, "status", "operationState", "phase")
	opMessage := providers.Str(obj, "status", "operationState", "message")
	finished := parseTime(providers.Str(obj, "status", "operationState", "finishedAt"))
	reconciled := parseTime(providers.Str(obj, "status", "reconciledAt"))

	errCond := ""
	for _, c := range providers.Conditions(obj) {
		if c.Type == "ComparisonError" || c.Type == "InvalidSpecError" {
			errCond = c.Type + ": " + c.Message
		}
	}

	switch {
	case errCond != "":
		// Before any operation: Argo CD could not compare the source (a
		// kustomization that does not build). The revision it tried is not
		// said (sync.revision is the branch name), so when it compared is:
		// a comparison made after the merge was of the merge.
		o.Failed = true
		o.Message = errCond
		o.ComparedAt = reconciled
	case phase == "Failed" || phase == "Error":
		o.Failed = true
		o.Attempted = operationRevision(obj)
		o.Message = fmt.Sprintf("sync %s: %s", strings.ToLower(phase), opMessage)
	case o.Health == "Degraded" && o.Current:
		o.Failed = true
		o.Attempted = firstOf(o.Revisions)
		o.Message = degraded(obj)
	}
	if phase == "Running" {
		o.Attempted = operationRevision(obj) // picked up: a sync of it runs
		retries, _, _ := unstructured.NestedInt64(obj.Object, "status", "operationState", "retryCount")
		switch {
		case retries > 0:
			// Argo CD 3.6 retries a failed automated sync by default: the
			// operation runs on with the failure in its message until Argo
			// CD gives up (phase Failed), which is the verdict.
			o.Message = fmt.Sprintf("the sync failed and Argo CD retries it (attempt %d): %s", retries, opMessage)
		case o.Message == "":
			o.Message = "sync running: " + opMessage
		}
	}
	// The last operation counts when it was for the revision now reported:
	// a sync that failed at an older revision says nothing of a later one
	// Argo CD compared as Synced and Healthy without a new operation.
	opRev := operationRevision(obj)
	staleOp := opRev != "" && len(reported) > 0 && !containsRev(reported, opRev)
	_, requested := obj.Object["operation"] // a sync asked for and not started
	pending := requested || phase != "" && phase != "Failed" && phase != "Error" && finished.IsZero()
	o.Ready = o.Current && o.Sync == "Synced" && o.Health == "Healthy" && !pending &&
		(phase == "" || phase == "Succeeded" || staleOp) &&
		(finished.IsZero() || !reconciled.Before(finished))
	if o.Health == "Suspended" {
		o.Suspended = "Argo CD reports the application Suspended (a paused rollout or a suspended resource): it will not become Healthy until it is resumed"
	}
	if requested && o.Message == "" {
		o.Message = "a sync was requested and has not started"
	}
	if o.Retrying { // only the source hydrator's failures are retried here
		o.Ready = false
	}
	if hydrating != "" && !o.Failed && !o.Retrying {
		o.Ready, o.Message = false, hydrating
	}
	return o
}

// hydrate reads the source hydrator's status (spec.sourceHydrator: Argo CD
// renders the dry commit of this repository and pushes the manifests to a
// sync branch, then syncs that). The Application syncs the hydrated commit;
// the dry commit it was hydrated from is what contains the merge, so it is
// reported as the revision when an operation matches the synced commit.
// It returns what the hydrator still has to do, "" when nothing.
func hydrate(obj *unstructured.Unstructured, repoURL string, o *providers.Observation) (pending string) {
	if !providers.SameRepo(providers.Str(obj, "spec", "sourceHydrator", "drySource", "repoURL"), repoURL) {
		return ""
	}
	synced := providers.Str(obj, "status", "sync", "revision")
	for _, op := range []string{"currentOperation", "lastSuccessfulOperation"} {
		dry := providers.Str(obj, "status", "sourceHydrator", op, "drySHA")
		if dry != "" && synced != "" && providers.Str(obj, "status", "sourceHydrator", op, "hydratedSHA") == synced {
			o.Revisions = []string{dry}
			break
		}
	}
	cur := func(f string) string { return providers.Str(obj, "status", "sourceHydrator", "currentOperation", f) }
	switch cur("phase") {
	case "Hydrating":
		o.Attempted = cur("drySHA") // picked up
		return fmt.Sprintf("the source hydrator is hydrating dry commit %.7s", cur("drySHA"))
	case "Failed":
		// The hydrator tries again at its next refresh: a failure it retries.
		o.Retrying, o.Attempted = true, cur("drySHA")
		o.Message = "source hydration failed: " + cur("message")
	case "Hydrated":
		if len(o.Revisions) == 0 && cur("hydratedSHA") != "" {
			return fmt.Sprintf("dry commit %.7s is hydrated as %.7s, which Argo CD has not synced yet", cur("drySHA"), cur("hydratedSHA"))
		}
	}
	return ""
}

// compared: for the source hydrator, whether Argo CD compared the sync
// source the spec names now (status.sync.comparedTo holds it as source).
func compared(obj *unstructured.Unstructured) bool {
	return providers.Str(obj, "status", "sync", "comparedTo", "source", "path") == providers.Str(obj, "spec", "sourceHydrator", "syncSource", "path")
}

func containsRev(revs []string, rev string) bool {
	for _, r := range revs {
		if r == rev {
			return true
		}
	}
	return false
}

// sameSources compares spec.source(s) with status.sync.comparedTo.
func sameSources(obj *unstructured.Unstructured) bool {
	for _, f := range []string{"source", "sources"} {
		spec, _, _ := unstructured.NestedFieldNoCopy(obj.Object, "spec", f)
		cmp, _, _ := unstructured.NestedFieldNoCopy(obj.Object, "status", "sync", "comparedTo", f)
		if !SameSource(spec, cmp) {
			return false
		}
	}
	_, has := obj.Object["spec"]
	return has
}

// SameSource compares a spec's source (or sources) with what
// status.sync.comparedTo says was compared. Argo CD writes comparedTo's
// single source as a struct, so a multi-source Application's status has
// `source: {repoURL: ""}` where its spec has none: that is no source.
func SameSource(spec, compared any) bool {
	if spec == nil && isEmpty(compared) {
		return true
	}
	return equality.Semantic.DeepEqual(spec, compared)
}

// isEmpty: nil, or a map whose values are all empty.
func isEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case map[string]any:
		for _, x := range t {
			if !isEmpty(x) {
				return false
			}
		}
		return true
	}
	return false
}

func operationRevision(obj *unstructured.Unstructured) string {
	for _, f := range [][]string{
		{"status", "operationState", "syncResult", "revision"},
		{"status", "operationState", "operation", "sync", "revision"},
	} {
		if r := providers.Str(obj, f...); r != "" {
			return r
		}
	}
	revs, _, _ := unstructured.NestedStringSlice(obj.Object, "status", "operationState", "syncResult", "revisions")
	return firstOf(revs)
}

// degraded lists the resources Argo CD reports as degraded.
func degraded(obj *unstructured.Unstructured) string {
	res, _, _ := unstructured.NestedSlice(obj.Object, "status", "resources")
	var parts []string
	for _, r := range res {
		m, _ := r.(map[string]any)
		h, _ := m["health"].(map[string]any)
		if h["status"] != "Degraded" {
			continue
		}
		msg, _ := h["message"].(string)
		parts = append(parts, fmt.Sprintf("%v %v/%v: %s", m["kind"], m["namespace"], m["name"], msg))
	}
	if len(parts) == 0 {
		return "health Degraded: " + providers.Str(obj, "status", "health", "message")
	}
	return "degraded: " + strings.Join(parts, "; ")
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t
}

func orUnknown(s string) string {
	if s == "" {
		return "Unknown"
	}
	return s
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// SourceHolds says whether the source of an Application at index (-1 for
// spec.source) reads file: any file under its path, but for a plain
// directory source (no kustomization, no chart) only the files directly in
// it unless directory.recurse is set, as Argo CD's repo-server reads it
// (reposerver/repository/repository.go, findManifests).
func SourceHolds(app *unstructured.Unstructured, index int, source map[string]any, file string) bool {
	p, _ := source["path"].(string)
	// A chart's values files are relative to its path and may leave it
	// (../../envs/staging/values.yaml); $ref/ files are another source's.
	files, _, _ := unstructured.NestedStringSlice(source, "helm", "valueFiles")
	for _, f := range files {
		if !strings.HasPrefix(f, "$") && path.Join(p, f) == file {
			return true
		}
	}
	if !providers.PathContains(p, file) {
		return false
	}
	sourceType := providers.Str(app, "status", "sourceType")
	if index >= 0 {
		types, _, _ := unstructured.NestedStringSlice(app.Object, "status", "sourceTypes")
		sourceType = ""
		if index < len(types) {
			sourceType = types[index]
		}
	}
	dir, explicit := source["directory"].(map[string]any)
	if sourceType != "Directory" && !explicit {
		return true
	}
	if recurse, _ := dir["recurse"].(bool); recurse {
		return true
	}
	return path.Dir(file) == path.Clean(strings.Trim(strings.TrimPrefix(p, "./"), "/"))
}
