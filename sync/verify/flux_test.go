package verify

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/providers"
)

func TestFluxSyncedAtMerge(t *testing.T) {
	h := startWithRelease(t)
	h.reported("queued")
	h.kustomization(ready(shaM))
	h.reported("in_progress") // the applier is at M; the HelmRelease is not ready yet
	h.objs.SetStatus(providers.HelmReleaseGVR, h.ns, "podinfo", map[string]any{"observedGeneration": "$generation",
		"conditions": []any{condition("Ready", "True", "UpgradeSucceeded", "Helm upgrade succeeded for release podinfo/podinfo.v2 with chart podinfo@6.7.0")}})
	r := h.done("staging")
	expect(t, r, "success", "Kustomization/"+h.ns+"/apps", shaM[:7], "HelmRelease/"+h.ns+"/podinfo", "Helm upgrade succeeded")
}

func TestFluxSyncedAtDescendant(t *testing.T) {
	h := newHarness(t)
	h.fluxSource()
	v, _ := h.run()
	v.Start(context.Background(), h.request("flux", time.Minute))
	h.kustomization(ready(shaDesc))
	expect(t, h.done("staging"), "success", shaDesc[:7])
}

// Cases that must never succeed: they wait until the timeout, which then
// reports what was seen last.
func TestFluxWaits(t *testing.T) {
	cases := map[string]struct {
		status func(h *harness)
		want   string
	}{
		"older revision":     {func(h *harness) { h.kustomization(ready(shaOld)) }, "does not contain the merge commit"},
		"unrelated revision": {func(h *harness) { h.kustomization(ready(shaFork)) }, shaFork[:7]},
		"missing status":     {func(h *harness) {}, "no status yet"},
		"observedGeneration behind": {func(h *harness) {
			h.kustomization(ready(shaM))
			h.objs.Update(providers.KustomizationGVR, h.ns, "apps", func(u *unstructured.Unstructured) {
				unstructured.SetNestedField(u.Object, "2m", "spec", "timeout") // generation+1, status untouched
			})
		}, "has not reconciled generation"},
		"ready but old lastAppliedRevision": {func(h *harness) {
			h.kustomization(kustomizationStatus(shaOld, shaM, condition("Ready", "True", "ReconciliationSucceeded", "Applied revision: main@sha1:"+shaOld)))
		}, "Applied revision"},
		"failure before the merge": {func(h *harness) {
			h.kustomization(kustomizationStatus(shaOld, shaOld, condition("Ready", "False", "BuildFailed", "kustomize build failed: old")))
		}, "kustomize build failed: old"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.fluxSource()
			v, _ := h.run()
			v.Start(context.Background(), h.request("flux", 3*time.Second))
			c.status(h)
			expect(t, h.done("staging"), "timed_out", "What was seen last", c.want)
		})
	}
}

func TestFluxFailures(t *testing.T) {
	cases := map[string]struct {
		status map[string]any
		want   string
	}{
		"BuildFailed": {kustomizationStatus(shaOld, shaM, condition("Ready", "False", "BuildFailed",
			"kustomize build failed: accumulating resources: open clusters/staging/podinfo.yaml: no such file or directory")), "kustomize build failed"},
		"HealthCheckFailed": {kustomizationStatus(shaM, shaM, condition("Ready", "False", "HealthCheckFailed",
			"health check failed after 2m0s: timeout waiting for: [Deployment/podinfo/podinfo status: 'InProgress']")), "health check failed"},
		// As kustomize-controller writes a deleted path: ArtifactFailed,
		// retried, lastAttemptedRevision left at the older commit and the
		// merge named only in the Reconciling message.
		"ArtifactFailed": {kustomizationStatus(shaOld, shaOld,
			condition("Reconciling", "True", "ProgressingWithRetry", "Fetching manifests for revision main@sha1:"+shaM+" with a timeout of 4m30s"),
			condition("Ready", "False", "ArtifactFailed", "kustomization path not found: stat /tmp/kustomization-1464362706/clusters/staging: no such file or directory")),
			"kustomization path not found"},
		"Stalled": {kustomizationStatus(shaOld, shaM, condition("Ready", "False", "InvalidPath", "path not found"),
			condition("Stalled", "True", "InvalidPath", "kustomization path not found: clusters/staging")), "kustomization path not found"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.fluxSource()
			v, _ := h.run()
			v.Start(context.Background(), h.request("flux", time.Minute))
			h.kustomization(c.status)
			expect(t, h.done("staging"), "failure", c.want, "comment `/rollback` on #7")
			waitFor(t, "the comment on the pull request", func() bool { return len(h.checks.Replies()) == 1 })
			if r := h.checks.Replies()[0]; r.Thread != 7 || !r.PR || !strings.Contains(r.Body, "Comment `/rollback` here") {
				t.Errorf("comment %+v", r)
			}
		})
	}
}

func TestFluxHelmReleaseFailure(t *testing.T) {
	h := newHarness(t)
	h.fluxSource()
	hr := h.helmRelease()
	// Failing before the merge: not blamed on it while the applier is behind.
	h.objs.SetStatus(providers.HelmReleaseGVR, h.ns, "podinfo", map[string]any{"observedGeneration": "$generation",
		"conditions": []any{condition("Ready", "False", "UpgradeFailed", "Helm upgrade failed for release podinfo/podinfo with chart podinfo@6.7.0: timed out")}})
	v, _ := h.run()
	v.Start(context.Background(), h.request("flux", time.Minute, hr))
	h.kustomization(ready(shaOld))
	h.reported("queued")
	h.kustomization(ready(shaM))
	expect(t, h.done("staging"), "failure", "Helm upgrade failed")
}

func TestNothingToVerify(t *testing.T) {
	h := newHarness(t)
	h.objs.Create(providers.GitRepositoryGVR, fmt.Sprintf(`
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: other, namespace: %s}
spec: {interval: 1m, url: "https://github.com/acme/other", ref: {branch: main}}`, h.ns))
	for name, spec := range map[string]string{
		"apps":   "{interval: 10m, path: ./clusters/explain, prune: true, sourceRef: {kind: GitRepository, name: other}}",
		"infra":  "{interval: 10m, path: ./infrastructure, prune: true, sourceRef: {kind: GitRepository, name: other}}",
		"orphan": "{interval: 10m, path: ./clusters/explain, prune: true, sourceRef: {kind: GitRepository, name: gone}}",
	} {
		h.objs.Create(providers.KustomizationGVR, fmt.Sprintf(`
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: %s, namespace: %s}
spec: %s`, name, h.ns, spec))
	}
	v, _ := h.run()
	req := h.request("flux", time.Minute) // no GitRepository of this repository
	req.Files = []string{"clusters/explain/podinfo.yaml"}
	v.Start(context.Background(), req)
	// The verdict explains itself: the files looked for, each applier and
	// why it was passed over, those that came close (path) first. (Other
	// tests' Kustomizations share the API server: only the close ones are
	// sure to be within the first 20.)
	r := h.done("staging")
	expect(t, r, "neutral", "Nothing in cluster `default` applies the changed files",
		"Changed files looked for:\n- `clusters/explain/podinfo.yaml`",
		"Kustomizations considered, and why each was passed over:\n- Kustomization/"+h.ns+"/apps: its source GitRepository "+h.ns+"/other is `https://github.com/acme/other`, another repository\n"+
			"- Kustomization/"+h.ns+"/orphan: its source GitRepository "+h.ns+"/gone is not in the cluster\n")
	if i := strings.Index(r.Summary, "/infra: its path `./infrastructure` holds none"); i >= 0 && i < strings.Index(r.Summary, "/orphan:") {
		t.Errorf("a far applier listed before a near one:\n%s", r.Summary)
	}

	req = h.request("flux", time.Minute)
	req.Env, req.Cluster = "production", "prod-eu"
	v.Start(context.Background(), req)
	expect(t, h.done("production"), "neutral", "No cluster named `prod-eu`")
}

// Manifests pushed from this repository as an OCI artifact: the
// Kustomization applies a digest, and the OCIRepository's artifact metadata
// names the commit it was pushed from. The digest is never read as a commit.
func TestFluxFromAnOCIArtifact(t *testing.T) {
	h := newHarness(t)
	digest := "latest@sha256:" + strings.Repeat(shaOld[:32], 2)
	h.objs.Create(providers.OCIRepositoryGVR, `
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: manifests, namespace: `+h.ns+`}
spec: {interval: 1m, url: oci://ghcr.io/acme/manifests, ref: {tag: latest}}`)
	h.objs.Create(providers.KustomizationGVR, `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: `+h.ns+`}
spec: {interval: 10m, path: ./oci/staging, prune: true, sourceRef: {kind: OCIRepository, name: manifests}}`)
	h.objs.SetStatus(providers.OCIRepositoryGVR, h.ns, "manifests", map[string]any{"observedGeneration": "$generation",
		"artifact": map[string]any{"revision": digest, "digest": "sha256:abc", "path": "x", "url": "http://x", "lastUpdateTime": time.Now().UTC().Format(time.RFC3339),
			"metadata": map[string]any{"org.opencontainers.image.source": strings.TrimSuffix(h.repo.CloneURL, ".git"), "org.opencontainers.image.revision": "main@sha1:" + shaM}},
		"conditions": []any{condition("Ready", "True", "Succeeded", "stored artifact")}})
	v, _ := h.run()
	req := h.request("flux", time.Minute)
	req.Files = []string{"oci/staging/podinfo.yaml"} // a path no other test's Kustomization applies
	if err := v.Start(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	h.kustomization(map[string]any{"observedGeneration": "$generation", "lastAppliedRevision": digest, "lastAttemptedRevision": digest,
		"conditions": []any{condition("Ready", "True", "ReconciliationSucceeded", "Applied revision: "+digest)}})
	expect(t, h.done("staging"), "success", "Kustomization/"+h.ns+"/apps", shaM[:7])
}

// A suspended Kustomization will apply nothing: the check says so at once,
// neutral, instead of timing out in silence.
func TestFluxSuspended(t *testing.T) {
	h := newHarness(t)
	h.fluxSource()
	h.objs.Update(providers.KustomizationGVR, h.ns, "apps", func(u *unstructured.Unstructured) {
		unstructured.SetNestedField(u.Object, true, "spec", "suspend")
	})
	h.kustomization(ready(shaOld))
	v, _ := h.run()
	if err := v.Start(context.Background(), h.request("flux", time.Minute)); err != nil {
		t.Fatal(err)
	}
	r := h.done("staging")
	expect(t, r, "neutral", "spec.suspend: true")
	if !strings.Contains(r.Title, "Suspended in default") {
		t.Errorf("title %q", r.Title)
	}
}

// A failure Flux retries (a namespace created a moment later) is not final:
// the check stays in progress, says the controller retries, and succeeds
// when a retry does; it is final only when it lasts the grace period.
func TestFluxRetriedFailureThatHeals(t *testing.T) {
	h := newHarness(t)
	h.fluxSource()
	v, _ := h.run()
	req := h.request("flux", time.Minute)
	req.FailureGrace = 10 * time.Second
	v.Start(context.Background(), req)
	h.kustomization(kustomizationStatus(shaOld, shaM, condition("Ready", "False", "ReconciliationFailed",
		`Namespace/podinfo not found`)))
	r := h.reported("in_progress")
	if !strings.Contains(r.Summary, "the controller retries") {
		t.Errorf("in progress: %s", r.Summary)
	}
	h.kustomization(ready(shaM))
	expect(t, h.done("staging"), "success", shaM[:7])
}

// The in-progress table follows each target, not only the overall verdict:
// an applier that finishes while a release it manages is still rolling out
// is shown as done at once.
func TestFluxInProgressTableFollowsTargets(t *testing.T) {
	h := startWithRelease(t)
	h.kustomization(kustomizationStatus(shaOld, shaM,
		condition("Reconciling", "True", "Progressing", "Fetching manifests for revision main@sha1:"+shaM+" with a timeout of 4m30s"),
		condition("Ready", "Unknown", "Progressing", "Reconciliation in progress")))
	if r := h.reported("in_progress"); strings.Contains(r.Summary, "Applied revision") {
		t.Fatalf("applied before it was: %s", r.Summary)
	}
	h.kustomization(ready(shaM))
	waitFor(t, "the table to show the applier done", func() bool {
		r, ok := h.checks.Find(shaM, CheckName("staging"))
		return ok && r.Status == "in_progress" && strings.Contains(r.Summary, "Applied revision: main@sha1:"+shaM)
	})
}

// Rows that change quickly are sent no more often than TableInterval (200ms
// in the harness), and the last of them is always shown.
func TestFluxInProgressTableIsRateLimited(t *testing.T) {
	h := startWithRelease(t)
	h.kustomization(ready(shaM))
	before := len(h.reported("in_progress").Updates)
	start := time.Now()
	const steps = 8
	for i := 1; i <= steps; i++ {
		h.objs.SetStatus(providers.HelmReleaseGVR, h.ns, "podinfo", map[string]any{"observedGeneration": "$generation",
			"conditions": []any{condition("Ready", "Unknown", "Progressing", fmt.Sprintf("Running 'upgrade' action, step %d", i))}})
	}
	var r forgetest.Record
	waitFor(t, "the last row", func() bool {
		r, _ = h.checks.Find(shaM, CheckName("staging"))
		return strings.Contains(r.Summary, fmt.Sprintf("step %d", steps))
	})
	sent, allowed := len(r.Updates)-before, int(time.Since(start)/(200*time.Millisecond))+2
	if sent > allowed || sent == 0 {
		t.Errorf("%d table updates in %s, at most %d allowed", sent, time.Since(start), allowed)
	}
}

// startWithRelease verifies the harness's merge on a Kustomization of this
// repository and the HelmRelease the pull request names.
func startWithRelease(t *testing.T) *harness {
	h := newHarness(t)
	h.fluxSource()
	hr := h.helmRelease()
	v, _ := h.run()
	if err := v.Start(context.Background(), h.request("flux", time.Minute, hr)); err != nil {
		t.Fatal(err)
	}
	return h
}

// Flux reports progress between two attempts of a failure it retries
// (Ready=Unknown "Reconciliation in progress", seen from the real
// kustomize-controller): the grace period runs on through them, and a
// failure still there when it has passed is final.
func TestFluxRetriedFailureGraceSpansAttempts(t *testing.T) {
	h := newHarness(t)
	h.fluxSource()
	v, _ := h.run()
	req := h.request("flux", time.Minute)
	req.FailureGrace = 1500 * time.Millisecond
	v.Start(context.Background(), req)
	failing := kustomizationStatus(shaOld, shaM, condition("Ready", "False", "ReconciliationFailed", `Deployment/apps/broken dry-run failed (Invalid)`))
	retrying := kustomizationStatus(shaOld, shaM,
		condition("Reconciling", "True", "Progressing", "Fetching manifests for revision main@sha1:"+shaM+" with a timeout of 30s"),
		condition("Ready", "Unknown", "Progressing", "Reconciliation in progress"))
	h.kustomization(failing)
	h.reported("in_progress")
	// Attempts every 500ms, never 1.5s of failure in a row: the verdict
	// must come while the controller still alternates.
	for range 12 {
		time.Sleep(250 * time.Millisecond)
		h.kustomization(retrying)
		time.Sleep(250 * time.Millisecond)
		h.kustomization(failing)
		if r, ok := h.checks.Find(shaM, CheckName("staging")); ok && r.Status == "completed" {
			expect(t, r, "failure", "still failing after 2s")
			return
		}
	}
	t.Fatal("no verdict after 6s of a failure retried every 500ms with a grace of 1.5s")
}
