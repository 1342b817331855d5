package argocd

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitops-bot/gitops-bot/providers/providertest"
)

func load(t *testing.T, file string) *unstructured.Unstructured {
	t.Helper()
	return providertest.Load(t, "testdata/"+file, "Application", appName[file])
}

var appName = map[string]string{
	"application-synced-healthy-succeeded.yaml":           "velero-test",
	"application-outofsync-degraded-failed.composed.yaml": "podinfo",
	"application-outofsync-progressing-running.yaml":      "my-app",
	"application-outofsync-degraded.yaml":                 "my-app",
}

func TestObserveSyncedHealthy(t *testing.T) {
	app := load(t, "application-synced-healthy-succeeded.yaml")
	o := Observe(app, "https://github.com/foo/manifests-velero")
	if !o.Current || !o.Ready || o.Failed || len(o.Revisions) != 1 || o.Revisions[0] != "rev1" {
		t.Errorf("%+v", o)
	}
	// Another repository's application reports no revision of ours.
	if o := Observe(app, "https://github.com/acme/fleet"); len(o.Revisions) != 0 {
		t.Errorf("revisions of another repository: %v", o.Revisions)
	}
}

func TestObserveFailedOperation(t *testing.T) {
	o := Observe(load(t, "application-outofsync-degraded-failed.composed.yaml"), "https://github.com/example-org/gitops-config.git")
	if !o.Failed || o.Ready || o.Attempted != "8d3c5e4f7a9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d" || !strings.Contains(o.Message, "one or more objects failed to apply") {
		t.Errorf("%+v", o)
	}
}

func TestObserveRunningIsNeitherReadyNorFailed(t *testing.T) {
	o := Observe(load(t, "application-outofsync-progressing-running.yaml"), "https://github.com/argoproj/argocd-example-apps")
	if o.Ready || o.Failed {
		t.Errorf("%+v", o)
	}
}

func TestObserveMissingStatusAndSpecChange(t *testing.T) {
	app := load(t, "application-synced-healthy-succeeded.yaml")
	app2 := app.DeepCopy()
	unstructured.SetNestedField(app2.Object, "instances/other", "spec", "source", "path")
	if o := Observe(app2, "https://github.com/foo/manifests-velero"); o.Current || o.Ready {
		t.Errorf("changed spec, old comparison: %+v", o)
	}
	unstructured.RemoveNestedField(app.Object, "status")
	if o := Observe(app, "https://github.com/foo/manifests-velero"); o.Ready || o.Message != "no status yet" {
		t.Errorf("no status: %+v", o)
	}
}

func TestObserveConditionsAndDegraded(t *testing.T) {
	app := load(t, "application-synced-healthy-succeeded.yaml")
	unstructured.SetNestedSlice(app.Object, []any{map[string]any{"type": "ComparisonError", "message": "rpc error: repository not found"}}, "status", "conditions")
	if o := Observe(app, "https://github.com/foo/manifests-velero"); !o.Failed || !strings.Contains(o.Message, "repository not found") {
		t.Errorf("comparison error: %+v", o)
	}
	app = load(t, "application-synced-healthy-succeeded.yaml")
	unstructured.SetNestedField(app.Object, "Degraded", "status", "health", "status")
	unstructured.SetNestedSlice(app.Object, []any{map[string]any{"kind": "Deployment", "namespace": "velero", "name": "velero",
		"health": map[string]any{"status": "Degraded", "message": "exceeded its progress deadline"}}}, "status", "resources")
	if o := Observe(app, "https://github.com/foo/manifests-velero"); !o.Failed || !strings.Contains(o.Message, "Deployment velero/velero: exceeded its progress deadline") {
		t.Errorf("degraded: %+v", o)
	}
}

// A sync that failed at an older revision says nothing of the revision Argo
// CD now reports Synced and Healthy with no new operation (the merge needed
// no sync): ready. A requested sync not yet started, and an operation with
// no finishedAt, are work still pending.
func TestObserveOperationsAsArgoCDLeavesThem(t *testing.T) {
	app := load(t, "application-synced-healthy-succeeded.yaml")
	unstructured.SetNestedField(app.Object, "Failed", "status", "operationState", "phase")
	unstructured.SetNestedField(app.Object, "old-revision", "status", "operationState", "syncResult", "revision")
	if o := Observe(app, "https://github.com/foo/manifests-velero"); !o.Ready || o.Revisions[0] != "rev1" {
		t.Errorf("failed at an older revision, synced now: %+v", o)
	}
	if o := Observe(app, "https://github.com/foo/manifests-velero"); !o.Failed || o.Attempted != "old-revision" {
		t.Errorf("the old failure is still reported, for the verifier to place: %+v", o)
	}

	requested := load(t, "application-synced-healthy-succeeded.yaml")
	requested.Object["operation"] = map[string]any{"sync": map[string]any{"revision": "rev2"}}
	if o := Observe(requested, "https://github.com/foo/manifests-velero"); o.Ready || !strings.Contains(o.Message, "requested") && o.Message == "" {
		t.Errorf("requested sync: %+v", o)
	}

	unfinished := load(t, "application-synced-healthy-succeeded.yaml")
	unstructured.RemoveNestedField(unfinished.Object, "status", "operationState", "finishedAt")
	if o := Observe(unfinished, "https://github.com/foo/manifests-velero"); o.Ready {
		t.Errorf("operation without finishedAt: %+v", o)
	}
}

// The source hydrator: Argo CD syncs a hydrated commit of another branch;
// the dry commit it came from is the revision compared with the merge.
func TestObserveSourceHydrator(t *testing.T) {
	const repo, dry1, dry2 = "https://github.com/acme/fleet.git", "dddd000000000000000000000000000000000001", "dddd000000000000000000000000000000000002"
	app := func(name string) *unstructured.Unstructured {
		return providertest.Load(t, "testdata/application-source-hydrator.composed.yaml", "Application", name)
	}
	if o := Observe(app("hydrated-synced"), repo); !o.Current || !o.Ready || len(o.Revisions) != 1 || o.Revisions[0] != dry1 {
		t.Errorf("synced at the hydrated commit of %.7s: %+v", dry1, o)
	}
	if o := Observe(app("hydrating"), repo); o.Ready || o.Failed || !strings.Contains(o.Message, "hydrating dry commit dddd000") {
		t.Errorf("hydrating: %+v", o)
	}
	if o := Observe(app("hydration-failed"), repo); o.Ready || !o.Retrying || o.Attempted != dry2 || !strings.Contains(o.Message, "kustomize build failed") {
		t.Errorf("hydration failed: %+v", o)
	}
	if o := Observe(app("hydrated-not-synced"), repo); o.Ready || len(o.Revisions) != 0 || !strings.Contains(o.Message, "has not synced yet") {
		t.Errorf("hydrated, not synced: %+v", o)
	}
	// Another repository's dry source reports no revision of ours.
	if o := Observe(app("hydrated-synced"), "https://github.com/acme/other"); len(o.Revisions) != 0 {
		t.Errorf("another repository: %+v", o)
	}
}

// Which files a source reads, as Argo CD's repo-server reads them.
func TestSourceHolds(t *testing.T) {
	app := func(sourceType string, source map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"spec": map[string]any{"source": source}, "status": map[string]any{"sourceType": sourceType}}}
	}
	dir := map[string]any{"path": "clusters/staging"}
	recursive := map[string]any{"path": "./clusters/staging/", "directory": map[string]any{"recurse": true}}
	chart := map[string]any{"path": "charts/hello", "helm": map[string]any{"valueFiles": []any{"values-staging.yaml", "../../envs/staging/hello.yaml", "$values/envs/prod.yaml"}}}
	for _, c := range []struct {
		name       string
		sourceType string
		source     map[string]any
		file       string
		want       bool
	}{
		{"a directory's own file", "Directory", dir, "clusters/staging/root.yaml", true},
		{"a directory's subdirectory", "Directory", dir, "clusters/staging/config/hello.yaml", false},
		{"a recursive directory's subdirectory", "Directory", recursive, "clusters/staging/config/hello.yaml", true},
		{"a kustomization's subdirectory", "Kustomize", dir, "clusters/staging/config/hello.yaml", true},
		{"not yet compared: any file under the path", "", dir, "clusters/staging/config/hello.yaml", true},
		{"outside the path", "Directory", dir, "clusters/production/root.yaml", false},
		{"a chart's template", "Helm", chart, "charts/hello/templates/cm.yaml", true},
		{"a values file outside the chart", "Helm", chart, "envs/staging/hello.yaml", true},
		{"another source's values file", "Helm", chart, "envs/prod.yaml", false},
	} {
		if got := SourceHolds(app(c.sourceType, c.source), -1, c.source, c.file); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	// A multi-source Application says each source's type by its index.
	multi := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"sourceTypes": []any{"Helm", "Directory"}}}}
	if SourceHolds(multi, 1, dir, "clusters/staging/config/hello.yaml") {
		t.Error("the second source, a directory, reads its subdirectory")
	}
	if !SourceHolds(multi, 0, dir, "clusters/staging/config/hello.yaml") {
		t.Error("the first source, a chart, does not read its subdirectory")
	}
}

// Argo CD writes a multi-source Application's comparedTo.source as an
// empty struct: no source, like the spec's.
func TestSameSource(t *testing.T) {
	sources := []any{map[string]any{"repoURL": "https://github.com/acme/fleet", "path": "a"}}
	if !SameSource(nil, map[string]any{"repoURL": ""}) {
		t.Error("an empty compared source differs from none")
	}
	if SameSource(nil, map[string]any{"repoURL": "https://github.com/acme/fleet"}) {
		t.Error("a compared source equals none")
	}
	if !SameSource(sources, []any{map[string]any{"repoURL": "https://github.com/acme/fleet", "path": "a"}}) {
		t.Error("the same sources differ")
	}
	if SameSource(sources, []any{map[string]any{"repoURL": "https://github.com/acme/fleet", "path": "b"}}) {
		t.Error("other sources are the same")
	}
}
