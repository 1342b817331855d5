package flux

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitops-bot/gitops-bot/providers/providertest"
)

const variants = "testdata/kustomization-status-variants.composed.yaml"

func TestObserveKustomization(t *testing.T) {
	o := Observe(providertest.Load(t, variants, "Kustomization", "apps"))
	if !o.Current || !o.Ready || o.Failed || len(o.Revisions) != 1 || o.Revisions[0] != "3f2c9a7d1e4b5c6a7b8c9d0e1f2a3b4c5d6e7f80" {
		t.Errorf("ready kustomization: %+v", o)
	}
	if o.Health != "Ready" || o.Sync != "ReconciliationSucceeded" || !strings.HasPrefix(o.Message, "Applied revision") {
		t.Errorf("table fields: %+v", o)
	}

	// A build failure will fail again on every retry; a failed health check
	// is retried by the controller and may still heal.
	for name, want := range map[string]struct {
		failed, retrying bool
		message          string
	}{
		"apps-build-failed":        {failed: true, message: "kustomize build failed"},
		"apps-health-check-failed": {retrying: true, message: "timeout waiting for"},
	} {
		o := Observe(providertest.Load(t, variants, "Kustomization", name))
		if o.Failed != want.failed || o.Retrying != want.retrying || o.Ready || o.Attempted == "" || o.Attempted == o.Revisions[0] || !strings.Contains(o.Message, want.message) {
			t.Errorf("%s: %+v", name, o)
		}
	}
}

func TestObserveStaleAndMissingStatus(t *testing.T) {
	k := providertest.Load(t, variants, "Kustomization", "apps")
	k.SetGeneration(5) // the spec changed; the controller has not caught up
	if o := Observe(k); o.Current || o.Ready || o.Failed || !strings.Contains(o.Message, "generation 5") {
		t.Errorf("stale: %+v", o)
	}
	unstructured.RemoveNestedField(k.Object, "status")
	if o := Observe(k); o.Current || o.Ready || o.Message != "no status yet" {
		t.Errorf("no status: %+v", o)
	}
	// A HelmRelease captured without observedGeneration is never taken as current.
	hr := providertest.Load(t, "testdata/flux2-testdata-trace-helmrelease.yaml", "HelmRelease", "podinfo")
	if o := Observe(hr); o.Ready {
		t.Errorf("helmrelease without observedGeneration: %+v", o)
	}
}

func TestObserveHelmRelease(t *testing.T) {
	hr := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
		"metadata": map[string]any{"name": "podinfo", "namespace": "flux-system", "generation": int64(2)},
		"status": map[string]any{"observedGeneration": int64(2), "conditions": []any{
			map[string]any{"type": "Ready", "status": "False", "reason": "UpgradeFailed", "message": "Helm upgrade failed: timed out waiting for the condition"},
		}},
	}}
	// helm-controller retries a failed upgrade (remediation); only Stalled is final.
	if o := Observe(hr); o.Failed || !o.Retrying || o.Ready || !strings.Contains(o.Message, "upgrade failed") {
		t.Errorf("upgrade failed: %+v", o)
	}
	unstructured.SetNestedSlice(hr.Object, []any{map[string]any{"type": "Ready", "status": "True", "reason": "UpgradeSucceeded"}}, "status", "conditions")
	if o := Observe(hr); !o.Ready || o.Failed {
		t.Errorf("ready: %+v", o)
	}
	unstructured.SetNestedSlice(hr.Object, []any{
		map[string]any{"type": "Ready", "status": "False", "reason": "ArtifactFailed"},
		map[string]any{"type": "Stalled", "status": "True", "reason": "RetriesExceeded", "message": "Failed to install after 3 attempt(s)"},
	}, "status", "conditions")
	if o := Observe(hr); !o.Failed || o.Retrying || o.Message != "Failed to install after 3 attempt(s)" {
		t.Errorf("stalled: %+v", o)
	}
}

// What the real controllers write that hand-written statuses never showed:
// a failed first reconcile leaves status.observedGeneration at -1 while
// Ready speaks of generation 1; Reconciling=True beside Ready=True is work
// still under way; a Ready of an older generation is not current.
func TestObserveAsTheControllersWriteIt(t *testing.T) {
	k := providertest.Load(t, variants, "Kustomization", "apps-build-failed")
	gen := k.GetGeneration()
	unstructured.SetNestedField(k.Object, int64(-1), "status", "observedGeneration")
	setReadyGeneration(k, gen)
	if o := Observe(k); !o.Current || !o.Failed {
		t.Errorf("failed first reconcile: %+v", o)
	}

	ok := providertest.Load(t, variants, "Kustomization", "apps")
	conds, _, _ := unstructured.NestedSlice(ok.Object, "status", "conditions")
	conds = append(conds, map[string]any{"type": "Reconciling", "status": "True", "reason": "Progressing", "message": "Reconciliation in progress"})
	unstructured.SetNestedSlice(ok.Object, conds, "status", "conditions")
	if o := Observe(ok); o.Ready || o.Message != "Reconciliation in progress" {
		t.Errorf("reconciling beside ready: %+v", o)
	}

	behind := providertest.Load(t, variants, "Kustomization", "apps")
	setReadyGeneration(behind, behind.GetGeneration()-1)
	if o := Observe(behind); o.Current || o.Ready {
		t.Errorf("ready of an older generation: %+v", o)
	}
}

func setReadyGeneration(k *unstructured.Unstructured, gen int64) {
	conds, _, _ := unstructured.NestedSlice(k.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Ready" {
			m["observedGeneration"] = gen
		}
	}
	unstructured.SetNestedSlice(k.Object, conds, "status", "conditions")
}

// A deleted path, as kustomize-controller reports it (the status shown in
// its own documentation, "Debugging a Kustomization"): the failed revision
// is named only by the Reconciling message.
func TestObserveArtifactFailedNamesRevisionInReconciling(t *testing.T) {
	k := providertest.Load(t, variants, "Kustomization", "apps")
	unstructured.SetNestedField(k.Object, "master/67e2c98a60dc92283531412a9e604dd4bae005a9", "status", "lastAttemptedRevision")
	unstructured.SetNestedSlice(k.Object, []any{
		map[string]any{"type": "Reconciling", "status": "True", "reason": "ProgressingWithRetry",
			"message": "Fetching manifests for revision master@sha1:1111111111111111111111111111111111111111 with a timeout of 4m30s"},
		map[string]any{"type": "Ready", "status": "False", "reason": "ArtifactFailed",
			"message": "kustomization path not found: stat /tmp/kustomization-1464362706/invalid: no such file or directory"},
	}, "status", "conditions")
	o := Observe(k)
	if o.Attempted != "1111111111111111111111111111111111111111" || !o.Retrying || o.Failed || o.Ready || !strings.Contains(o.Message, "path not found") {
		t.Errorf("%+v", o)
	}
}
