package verify

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/argocd"
	"github.com/gitops-bot/gitops-bot/providers/flux"
)

// The rules measured against the verdicts of other projects that answer
// "is this applied and healthy": each case is a status one of them rules
// on in its own code or tests, with that peer's verdict, ours, and when
// they differ, why (docs/verification.md lists the same cases).
//
// Sources (read at the commits named):
//   - kargo: akuity/kargo internal/health/checker/builtin/argocd.go @6aed278 (Argo CD health checker)
//   - promoter: argoproj-labs/gitops-promoter internal/controller/argocdcommitstatus_controller.go @02818f7
//   - commenter: int128/argocd-commenter internal/notification/{phase,health}deployment.go @025f70b
//   - app-wait: argoproj/argo-cd cmd/argocd/commands/app.go (waitOnApplicationStatus, checkResourceStatus)
//   - flux-cli: fluxcd/flux2 cmd/flux/readiness.go @6cc0204 (isObjectReady)
//   - kstatus: fluxcd/cli-utils v1.2.3 pkg/kstatus/status/generic.go (checkGenericProperties)
type peerCase struct {
	name, peer, peerSays string
	obj                  *unstructured.Unstructured
	want                 string // our verdict: waiting, in_progress, retrying, success, failure, neutral
	differ               string // why we differ ("" when we agree)
}

const peerRepo = "https://github.com/acme/fleet"

// In these cases shaM is the merge, shaDesc a descendant of it, shaOld an
// older commit.
func peerCases() []peerCase {
	ok := map[string]any{"phase": "Succeeded", "finishedAt": "2026-11-20T10:00:05Z", "syncResult": map[string]any{"revision": shaM}}
	failedAt := func(rev string) map[string]any {
		return map[string]any{"phase": "Failed", "message": "one or more objects failed to apply", "finishedAt": "2026-11-20T10:00:05Z", "syncResult": map[string]any{"revision": rev}}
	}
	running := map[string]any{"phase": "Running", "message": "waiting for healthy state", "syncResult": map[string]any{"revision": shaM}}
	errCond := func(t string) []any {
		return []any{map[string]any{"type": t, "message": "rpc error: manifest generation failed"}}
	}
	cond := func(t, s, reason string, gen int64) map[string]any {
		return map[string]any{"type": t, "status": s, "reason": reason, "message": reason, "observedGeneration": gen}
	}
	return []peerCase{
		// Argo CD Applications.
		{"synced healthy at M", "kargo, promoter, app-wait, commenter", "healthy / success", app("Synced", "Healthy", shaM, ok, nil), "success", ""},
		{"synced healthy at a descendant", "promoter", "pending: sync.revision is not the commit", app("Synced", "Healthy", shaDesc, ok, nil), "success",
			"a descendant contains the merge; the cluster will never report M itself once a later commit is applied"},
		{"synced healthy at an older commit", "kargo", "unhealthy: revision does not match", app("Synced", "Healthy", shaOld, ok, nil), "waiting",
			"an older revision is transient: Argo CD has not fetched the merge yet"},
		{"no operation ever, synced healthy at M", "kargo", "unknown: being synced (no operationState)", app("Synced", "Healthy", shaM, nil, nil), "success",
			"Argo CD compared M and found it synced: the merge needed no sync (auto-sync off, or nothing to change)"},
		{"older operation failed, synced healthy at M", "kargo", "healthy (revisions match, health Healthy)", app("Synced", "Healthy", shaM, failedAt(shaOld), nil), "success", ""},
		{"operation failed at M", "commenter", "failure", app("OutOfSync", "Healthy", shaOld, failedAt(shaM), nil), "failure", ""},
		{"operation error at M", "commenter", "failure", app("OutOfSync", "Healthy", shaOld, with(failedAt(shaM), "phase", "Error"), nil), "failure", ""},
		{"operation failed at an older commit", "commenter", "failure", app("OutOfSync", "Healthy", shaOld, failedAt(shaOld), nil), "waiting",
			"a failure at a commit before the merge is not the merge's failure"},
		{"operation running at M", "commenter, app-wait", "queued / in progress", app("OutOfSync", "Progressing", shaOld, running, nil), "in_progress", ""},
		{"sync succeeded, health still progressing", "kargo, commenter", "progressing / in_progress", app("Synced", "Progressing", shaM, ok, nil), "in_progress", ""},
		{"sync requested, not started", "kargo, app-wait", "being synced", app("Synced", "Healthy", shaM, ok, map[string]any{"operation": map[string]any{"sync": map[string]any{"revision": shaM}}}), "in_progress", ""},
		{"operation with no finishedAt", "kargo, app-wait", "being synced", app("Synced", "Healthy", shaM, with(ok, "finishedAt", nil), nil), "in_progress", ""},
		{"reconciled before the operation finished", "app-wait", "in progress until the controller reconciles once after syncing",
			app("Synced", "Healthy", shaM, ok, map[string]any{"reconciledAt": "2026-11-20T10:00:01Z"}), "in_progress", ""},
		{"degraded at M", "kargo, promoter, commenter", "unhealthy / failure", app("Synced", "Degraded", shaM, ok, nil), "failure", ""},
		{"degraded at an older commit", "promoter", "failure (phase from health alone)", app("Synced", "Degraded", shaOld, ok, nil), "waiting",
			"health at a commit before the merge says nothing of the merge"},
		{"missing at M", "kargo", "unhealthy", app("OutOfSync", "Missing", shaM, nil, nil), "in_progress",
			"Missing is what Argo CD reports before it creates the resources; it is not a failure of the merge"},
		{"health unknown at M", "kargo", "unhealthy", app("Synced", "Unknown", shaM, ok, nil), "in_progress", "Unknown is not yet an answer"},
		{"suspended", "kargo", "progressing until resumed", app("Synced", "Suspended", shaM, ok, nil), "neutral",
			"a check that waits on a person's resume would only time out: neutral at once, naming the suspension"},
		{"suspended (app wait)", "app-wait", "not done unless --suspended is given", app("Synced", "Suspended", shaM, ok, nil), "neutral",
			"as above: the check cannot be told to accept a suspension, so it says so"},
		{"ComparisonError", "kargo", "unhealthy", app("Unknown", "Healthy", shaM, nil, map[string]any{"conditions": errCond("ComparisonError")}), "failure", ""},
		{"InvalidSpecError", "kargo", "unhealthy", app("Unknown", "Healthy", shaM, nil, map[string]any{"conditions": errCond("InvalidSpecError")}), "failure", ""},
		{"spec changed, not compared yet", "app-wait", "done when Synced and Healthy", app("Synced", "Healthy", shaM, ok, map[string]any{"comparedTo": "other"}), "in_progress",
			"the status speaks of the sources before the change: Argo CD has not compared the current spec"},
		{"no status", "kargo", "unknown", app("", "", "", nil, map[string]any{"nostatus": true}), "waiting", ""},

		// Flux Kustomizations.
		{"ready at M", "flux-cli, kstatus", "ready / Current", ks(1, 1, shaM, shaM, cond("Ready", "True", "ReconciliationSucceeded", 1)), "success", ""},
		{"ready at a descendant", "flux-cli", "ready (no revision check)", ks(1, 1, shaDesc, shaDesc, cond("Ready", "True", "ReconciliationSucceeded", 1)), "success", ""},
		{"ready at an older commit", "flux-cli, kstatus", "ready / Current (no revision check)", ks(1, 1, shaOld, shaOld, cond("Ready", "True", "ReconciliationSucceeded", 1)), "waiting",
			"the merge is not applied yet: the source has not fetched it"},
		{"generation not observed", "flux-cli, kstatus", "not ready / InProgress", ks(2, 1, shaM, shaM, cond("Ready", "True", "ReconciliationSucceeded", 1)), "in_progress", ""},
		{"reconciling beside ready", "kstatus", "InProgress", ks(1, 1, shaM, shaM, cond("Ready", "True", "ReconciliationSucceeded", 1), cond("Reconciling", "True", "Progressing", 1)), "in_progress", ""},
		{"stalled", "flux-cli, kstatus", "error / Failed", ks(1, 1, shaOld, shaM, cond("Ready", "False", "ArtifactFailed", 1), cond("Stalled", "True", "InvalidPath", 1)), "failure", ""},
		{"build failed at M", "kstatus", "Current (Ready=False is not read)", ks(1, 1, shaOld, shaM, cond("Ready", "False", "BuildFailed", 1)), "failure",
			"kustomize-controller retries a build failure only to fail again: the merge needs a new commit"},
		{"build failed at M (flux CLI)", "flux-cli", "not ready: waits until its timeout", ks(1, 1, shaOld, shaM, cond("Ready", "False", "BuildFailed", 1)), "failure",
			"as above: waiting for a retry that cannot succeed only delays the answer"},
		{"health check failed at M", "flux-cli", "not ready, waits", ks(1, 1, shaOld, shaM, cond("Ready", "False", "HealthCheckFailed", 1)), "retrying", ""},
		{"reconciliation failed at M", "flux-cli", "not ready, waits", ks(1, 1, shaOld, shaM, cond("Ready", "False", "ReconciliationFailed", 1)), "retrying", ""},
		{"reconciliation failed at M (kstatus)", "kstatus", "Current (Ready=False is not read)", ks(1, 1, shaOld, shaM, cond("Ready", "False", "ReconciliationFailed", 1)), "retrying",
			"a failed apply is not current; the controller retries, so the grace period decides"},
		{"failed at an older commit", "flux-cli", "not ready", ks(1, 1, shaOld, shaOld, cond("Ready", "False", "BuildFailed", 1)), "waiting", ""},
		{"first reconcile failed", "flux-cli", "not reconciled yet (status.observedGeneration -1): waits", ks(1, -1, "", shaM, cond("Ready", "False", "BuildFailed", 1)), "failure",
			"the Ready condition speaks of generation 1: the first reconcile did fail"},
		{"ready speaks of an older generation", "flux-cli", "not ready", ks(2, 2, shaM, shaM, cond("Ready", "True", "ReconciliationSucceeded", 1)), "in_progress", ""},
		{"no Ready condition", "flux-cli", "not ready", ks(1, 1, shaM, shaM), "in_progress", ""},
		{"suspended Kustomization", "flux-cli", "error: suspended", ksSuspended(), "neutral", ""},
		{"no status (CRD default)", "flux-cli, kstatus", "not reconciled yet / InProgress", ks(1, -1, "", ""), "waiting", ""},
	}
}

// realStatuses: the peer cases the real Argo CD was made to write
// (TestRealArgoCD, kept in testdata/argocd with the merge commit as $M):
// each runs on that status as well as on the one written by hand.
var realStatuses = map[string][]string{
	"synced healthy at M":                         {"synced-healthy-at-M"},
	"older operation failed, synced healthy at M": {"older-operation-failed-synced-at-M"},
	"operation failed at M":                       {"failed-at-M", "failed-at-M-after-retries"},
	"operation running at M":                      {"retrying-at-M"},
	"sync succeeded, health still progressing":    {"synced-progressing-at-M"},
	"missing at M":                                {"missing-held-by-progressive-sync"},
	"ComparisonError":                             {"comparison-error"},
}

// realStatus reads a status the real Argo CD wrote, the merge as shaM.
func realStatus(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	raw, err := os.ReadFile("testdata/argocd/" + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(strings.ReplaceAll(string(raw), "$M", shaM)), &obj.Object); err != nil {
		t.Fatal(err)
	}
	return obj
}

func TestPeerCases(t *testing.T) {
	contains := func(rev string) bool {
		rev = providers.RevisionSHA(rev)
		return rev == shaM || rev == shaDesc
	}
	var cases []peerCase
	for _, c := range peerCases() {
		cases = append(cases, c)
		for _, file := range realStatuses[c.name] {
			real := c
			real.name += " (written by Argo CD: " + file + ")"
			real.obj = realStatus(t, file)
			cases = append(cases, real)
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var o providers.Observation
			if c.obj.GetKind() == "Application" {
				o = argocd.Observe(c.obj, peerRepo)
			} else {
				o = flux.Observe(c.obj)
			}
			allAtM, anyAtM := len(o.Revisions) > 0, false
			for _, r := range o.Revisions {
				allAtM = allAtM && contains(r)
				anyAtM = anyAtM || contains(r)
			}
			v, retrying := decide(o, true, allAtM, anyAtM, o.Attempted != "" && contains(o.Attempted))
			got := string(v)
			if retrying {
				got = "retrying"
			}
			if got != c.want {
				t.Errorf("%s (the peer, %s: %s): ours %s, want %s\n%+v", c.name, c.peer, c.peerSays, got, c.want, o)
			}
		})
	}
}

// Every case is in the documentation's table, with the same verdicts.
func TestPeerCasesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/verification.md")
	if err != nil {
		t.Fatal(err)
	}
	agree := 0
	for _, c := range peerCases() {
		row := fmt.Sprintf("| %s | %s | %s | %s |", c.name, c.peer, c.peerSays, c.want)
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/verification.md lacks the row\n%s", row)
		}
		if c.differ == "" {
			agree++
		} else if !strings.Contains(string(doc), c.differ) {
			t.Errorf("docs/verification.md does not say why %q differs: %s", c.name, c.differ)
		}
	}
	t.Logf("%d cases, %d agreeing", len(peerCases()), agree)
}

// app is an Application of peerRepo reporting sync, health and revision,
// with a last operation (nil: none) and extra status fields; "comparedTo":
// "other" makes Argo CD's comparison speak of another spec, "nostatus"
// leaves the status out.
func app(sync, health, rev string, op map[string]any, extra map[string]any) *unstructured.Unstructured {
	src := map[string]any{"repoURL": peerRepo, "path": "clusters/staging", "targetRevision": "main"}
	compared := map[string]any{"source": src}
	if extra["comparedTo"] == "other" {
		compared = map[string]any{"source": map[string]any{"repoURL": peerRepo, "path": "clusters/old", "targetRevision": "main"}}
	}
	status := map[string]any{
		"sync":         map[string]any{"status": sync, "revision": rev, "comparedTo": compared},
		"health":       map[string]any{"status": health},
		"reconciledAt": "2026-11-20T10:00:10Z",
	}
	if op != nil {
		status["operationState"] = op
	}
	obj := map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": "root", "namespace": "argocd", "generation": int64(1)},
		"spec":     map[string]any{"source": src}, "status": status}
	for k, v := range extra {
		switch k {
		case "operation":
			obj["operation"] = v
		case "comparedTo":
		case "nostatus":
			delete(obj, "status")
		default:
			status[k] = v
		}
	}
	return &unstructured.Unstructured{Object: obj}
}

// with returns a copy of m with k set (nil: removed).
func with(m map[string]any, k string, v any) map[string]any {
	out := map[string]any{}
	for key, val := range m {
		out[key] = val
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

// ks is a Kustomization at generation gen whose status observed observed,
// applied and last attempted the given commits ("" for none).
func ks(gen, observed int64, applied, attempted string, conds ...map[string]any) *unstructured.Unstructured {
	status := map[string]any{"observedGeneration": observed}
	if applied != "" {
		status["lastAppliedRevision"] = "main@sha1:" + applied
	}
	if attempted != "" {
		status["lastAttemptedRevision"] = "main@sha1:" + attempted
	}
	if len(conds) > 0 {
		cs := make([]any, len(conds))
		for i, c := range conds {
			cs[i] = c
		}
		status["conditions"] = cs
	}
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": "apps", "namespace": "flux-system", "generation": gen},
		"spec":     map[string]any{"path": "./clusters/staging", "sourceRef": map[string]any{"kind": "GitRepository", "name": "flux-system"}},
		"status":   status}}
}

func ksSuspended() *unstructured.Unstructured {
	k := ks(1, 1, shaOld, shaOld, map[string]any{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded", "observedGeneration": int64(1)})
	unstructured.SetNestedField(k.Object, true, "spec", "suspend") //nolint:errcheck // spec is a map
	return k
}
