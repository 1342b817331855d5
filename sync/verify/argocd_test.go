package verify

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gitops-bot/gitops-bot/providers"
)

func TestArgoSyncedAtMergeAndDescendant(t *testing.T) {
	for name, rev := range map[string]string{"exact": shaM, "descendant": shaDesc} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.argoRoot()
			app := h.argoChartApp()
			v, _ := h.run()
			v.Start(context.Background(), h.request("argocd", time.Minute, app))
			h.appStatus("root", "Synced", "Healthy", []string{rev}, operation("Succeeded", rev, "successfully synced (all tasks run)"), nil)
			h.reported("in_progress")
			h.appStatus("podinfo-staging", "Synced", "Healthy", []string{"6.7.0"}, operation("Succeeded", "6.7.0", "successfully synced"), nil)
			expect(t, h.done("staging"), "success", "Application/"+h.ns+"/root", rev[:7], "Application/"+h.ns+"/podinfo-staging")
		})
	}
}

func TestArgoFailures(t *testing.T) {
	t.Run("operation failed", func(t *testing.T) {
		h := newHarness(t)
		h.argoRoot()
		v, _ := h.run()
		v.Start(context.Background(), h.request("argocd", time.Minute))
		h.appStatus("root", "OutOfSync", "Healthy", []string{shaOld}, operation("Failed", shaM,
			`one or more objects failed to apply, reason: Deployment.apps "podinfo" is invalid (retried 2 times).`), nil)
		expect(t, h.done("staging"), "failure", "sync failed: one or more objects failed to apply")
	})
	t.Run("degraded", func(t *testing.T) {
		h := newHarness(t)
		h.argoRoot()
		v, _ := h.run()
		v.Start(context.Background(), h.request("argocd", time.Minute))
		h.appStatus("root", "Synced", "Degraded", []string{shaM}, operation("Succeeded", shaM, "successfully synced"), map[string]any{
			"resources": []any{map[string]any{"kind": "Deployment", "namespace": "podinfo", "name": "podinfo", "version": "v1", "group": "apps",
				"health": map[string]any{"status": "Degraded", "message": `Deployment "podinfo" exceeded its progress deadline`}}}})
		expect(t, h.done("staging"), "failure", `Deployment podinfo/podinfo: Deployment "podinfo" exceeded its progress deadline`)
	})
	t.Run("comparison error", func(t *testing.T) {
		h := newHarness(t)
		h.argoRoot()
		v, _ := h.run()
		v.Start(context.Background(), h.request("argocd", time.Minute))
		h.appStatus("root", "Unknown", "Healthy", []string{shaM}, nil, map[string]any{
			"conditions": []any{map[string]any{"type": "ComparisonError", "message": "rpc error: code = Unknown desc = clusters/staging/podinfo.yaml: yaml: line 3: mapping values are not allowed"}}})
		expect(t, h.done("staging"), "failure", "ComparisonError: rpc error")
	})
}

func TestArgoMultiSource(t *testing.T) {
	h := newHarness(t)
	h.argoRoot(
		`  - {repoURL: "https://stefanprodan.github.io/podinfo", chart: podinfo, targetRevision: 6.7.0, helm: {valueFiles: ["$values/clusters/staging/values.yaml"]}}`,
		fmt.Sprintf(`  - {repoURL: %q, targetRevision: main, ref: values, path: clusters/staging}`, h.repo.CloneURL),
	)
	v, _ := h.run()
	v.Start(context.Background(), h.request("argocd", time.Minute))
	h.appStatus("root", "Synced", "Healthy", []string{"6.7.0", shaOld}, operation("Succeeded", shaOld, "successfully synced"), nil)
	h.reported("queued")
	h.appStatus("root", "Synced", "Healthy", []string{"6.7.0", shaM}, operation("Succeeded", shaM, "successfully synced"), nil)
	expect(t, h.done("staging"), "success", shaM[:7])
}

func TestArgoWaits(t *testing.T) {
	for name, set := range map[string]func(h *harness){
		"missing status": func(h *harness) {},
		"older revision": func(h *harness) {
			h.appStatus("root", "Synced", "Healthy", []string{shaOld}, operation("Succeeded", shaOld, "successfully synced"), nil)
		},
		"sync running": func(h *harness) {
			h.appStatus("root", "OutOfSync", "Progressing", []string{shaM}, operation("Running", shaM, "waiting for healthy state of apps/Deployment/podinfo"), nil)
		},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.argoRoot()
			v, _ := h.run()
			v.Start(context.Background(), h.request("argocd", 3*time.Second))
			set(h)
			expect(t, h.done("staging"), "timed_out", "What was seen last", "Application/"+h.ns+"/root")
		})
	}
}

// The "chart + values" pattern: a chart from a Helm repository takes its
// values file from this repository through a ref source with no path. A
// change of that file is verified on the Application.
func TestArgoChartWithValuesFromThisRepository(t *testing.T) {
	h := newHarness(t)
	h.argoRoot(
		`  - {repoURL: "https://stefanprodan.github.io/podinfo", chart: podinfo, targetRevision: 6.7.0, helm: {valueFiles: ["$values/clusters/staging/podinfo.yaml"]}}`,
		fmt.Sprintf(`  - {repoURL: %q, targetRevision: main, ref: values}`, h.repo.CloneURL),
	)
	v, _ := h.run()
	v.Start(context.Background(), h.request("argocd", time.Minute))
	h.appStatus("root", "Synced", "Healthy", []string{"6.7.0", shaM}, operation("Succeeded", shaM, "successfully synced"), nil)
	expect(t, h.done("staging"), "success", "Application/"+h.ns+"/root", shaM[:7])
}

// A Suspended application (a paused rollout) will not become Healthy by
// itself: neutral, naming the suspension.
func TestArgoSuspended(t *testing.T) {
	h := newHarness(t)
	h.argoRoot()
	v, _ := h.run()
	v.Start(context.Background(), h.request("argocd", time.Minute))
	h.appStatus("root", "Synced", "Suspended", []string{shaM}, operation("Succeeded", shaM, "successfully synced"), nil)
	expect(t, h.done("staging"), "neutral", "Suspended", "paused rollout")
}

// A neutral verdict names each Application and why it was passed over.
func TestArgoNothingToVerifyExplains(t *testing.T) {
	h := newHarness(t)
	h.argoRoot()
	v, _ := h.run()
	req := h.request("argocd", time.Minute)
	req.Files = []string{"docs/runbook.md"}
	v.Start(context.Background(), req)
	expect(t, h.done("staging"), "neutral", "- `docs/runbook.md`",
		"Argo CD Applications considered, and why each was passed over:",
		"Application/"+h.ns+"/root: its path `clusters/staging` holds none of the changed files")
}

// The source hydrator: the Application syncs a hydrated commit on another
// branch; the check succeeds when that commit was hydrated from the merge
// (or a descendant), and waits while the hydrator works.
func TestArgoSourceHydrator(t *testing.T) {
	const hydrated = "aaaa000000000000000000000000000000000001"
	h := newHarness(t)
	h.argoApp("root", fmt.Sprintf(`sourceHydrator:
    drySource: {repoURL: %q, targetRevision: main, path: clusters/staging}
    syncSource: {targetBranch: environments/staging, path: env/staging}`, h.repo.CloneURL))
	v, _ := h.run()
	v.Start(context.Background(), h.request("argocd", time.Minute))
	status := func(phase, drySHA, hydratedSHA string) map[string]any {
		return map[string]any{
			"sync": map[string]any{"status": "Synced", "revision": hydrated, "comparedTo": map[string]any{
				"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": "argocd"},
				"source":      map[string]any{"repoURL": h.repo.CloneURL, "targetRevision": "environments/staging", "path": "env/staging"}}},
			"health": map[string]any{"status": "Healthy"},
			"sourceHydrator": map[string]any{"currentOperation": map[string]any{
				"drySHA": drySHA, "hydratedSHA": hydratedSHA, "phase": phase, "message": ""}},
		}
	}
	h.objs.SetStatus(providers.ApplicationGVR, h.ns, "root", status("Hydrating", shaM, ""))
	if r := h.reported("in_progress"); !strings.Contains(r.Summary, "hydrating dry commit "+shaM[:7]) {
		t.Errorf("hydrating: %s", r.Summary)
	}
	h.objs.SetStatus(providers.ApplicationGVR, h.ns, "root", status("Hydrated", shaDesc, hydrated))
	expect(t, h.done("staging"), "success", "Application/"+h.ns+"/root", shaDesc[:7])
}

// An Application its ApplicationSet's progressive sync holds back at a
// later step: the check says so while it waits and, still held at the
// deadline, ends neutral naming the step, not timed out.
func TestArgoHeldByProgressiveSync(t *testing.T) {
	h := newHarness(t)
	set := h.objs.Create(providers.ApplicationSetGVR, fmt.Sprintf(`
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: fleet, namespace: %s}
spec:
  generators: [{list: {elements: [{env: staging}]}}]
  strategy: {type: RollingSync, rollingSync: {steps: [{matchExpressions: [{key: env, operator: In, values: [dev]}]}, {matchExpressions: [{key: env, operator: In, values: [staging]}]}]}}
  template:
    metadata: {name: "root", labels: {env: "{{env}}"}}
    spec: {project: default, destination: {server: "https://kubernetes.default.svc", namespace: argocd}, source: {repoURL: %q, path: clusters/staging}}`, h.ns, h.repo.CloneURL))
	h.objs.Create(providers.ApplicationGVR, fmt.Sprintf(`
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: root
  namespace: %s
  ownerReferences: [{apiVersion: argoproj.io/v1alpha1, kind: ApplicationSet, name: fleet, uid: %q}]
spec:
  project: default
  destination: {server: "https://kubernetes.default.svc", namespace: argocd}
  source: {repoURL: %q, path: clusters/staging, targetRevision: main}`, h.ns, set.GetUID(), h.repo.CloneURL))
	v, _ := h.run()
	v.Start(context.Background(), h.request("argocd", 3*time.Second))
	h.appStatus("root", "OutOfSync", "Healthy", []string{shaOld}, operation("Succeeded", shaOld, "successfully synced"), nil)
	h.objs.SetStatus(providers.ApplicationSetGVR, h.ns, "fleet", map[string]any{"applicationStatus": []any{map[string]any{
		"application": "root", "status": "Waiting", "step": "2", "targetRevisions": []any{shaM}, "lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
		"message": "Application is waiting for the current step to complete"}}})
	r := h.done("staging")
	expect(t, r, "neutral", "held by the progressive sync of ApplicationSet "+h.ns+"/fleet at step 2 (Waiting): Application is waiting for the current step to complete")
	if !strings.HasPrefix(r.Title, "Held in default") {
		t.Errorf("title %q", r.Title)
	}
}

// A ComparisonError names no revision: one from a comparison made before
// the verification began may be of an older commit, which the merge may
// mend, so the check waits for Argo CD to compare again (here it never
// does: timed out, saying why it waited).
func TestArgoComparisonErrorBeforeTheMerge(t *testing.T) {
	h := newHarness(t)
	h.argoRoot()
	v, _ := h.run()
	v.Start(context.Background(), h.request("argocd", 3*time.Second))
	h.appStatus("root", "Unknown", "Healthy", []string{"main"}, nil, map[string]any{
		"reconciledAt": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339),
		"conditions":   []any{map[string]any{"type": "ComparisonError", "message": "kustomize build failed: missing.yaml"}}})
	expect(t, h.done("staging"), "timed_out", "waiting for Argo CD to compare the merge; before it, it said ComparisonError: kustomize build failed")
}
