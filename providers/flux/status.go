package flux

import (
	"fmt"
	"regexp"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitops-bot/gitops-bot/providers"
)

// Reasons after which Flux does not get better by itself at the same
// revision: a fix needs a new commit.
var terminal = map[string]bool{"BuildFailed": true, "PruneFailed": true}

// Reasons of failures Flux retries by itself: the cluster may heal (a
// namespace created a moment later, a slow rollout), so they are final only
// when Flux stalls or the failure lasts (the verifier's grace period).
var retried = map[string]bool{
	// kustomize-controller
	// (DependencyNotReady is waiting, not failing: it is neither.)
	"HealthCheckFailed": true, "ReconciliationFailed": true, "ArtifactFailed": true,
	// helm-controller
	"InstallFailed": true, "UpgradeFailed": true, "TestFailed": true, "RollbackSucceeded": true, "RollbackFailed": true,
}

var fetchingRevision = regexp.MustCompile(`^Fetching manifests for revision (\S+) with a timeout`)

// Observe reads a Flux object's status: a Kustomization by the revision it
// applied, a HelmRelease or source by being Ready at its current generation.
func Observe(obj *unstructured.Unstructured) providers.Observation {
	var o providers.Observation
	gen, observed := providers.Int(obj, "metadata", "generation"), providers.Int(obj, "status", "observedGeneration")
	conds := providers.Conditions(obj)
	ready, hasReady := providers.FindCondition(conds, "Ready")
	stalled, _ := providers.FindCondition(conds, "Stalled")

	reconciling, _ := providers.FindCondition(conds, "Reconciling")
	// The Ready condition says which generation it speaks of: a controller
	// that failed its first reconcile leaves status.observedGeneration at -1
	// while Ready speaks of generation 1; a Ready of an older generation is
	// not current even when the status says otherwise.
	switch {
	case hasReady && ready.ObservedGeneration != 0:
		o.Current = ready.ObservedGeneration == gen
	default:
		o.Current = observed != 0 && observed == gen
	}
	o.Sync, o.Health, o.Message = "Unknown", "Unknown", ready.Message
	if suspend, _, _ := unstructured.NestedBool(obj.Object, "spec", "suspend"); suspend {
		o.Suspended = fmt.Sprintf("the %s is suspended (spec.suspend: true): Flux will not apply anything to it until it is resumed", obj.GetKind())
	}
	// The CRDs default status to {observedGeneration: -1}: no controller yet.
	if _, ok, _ := unstructured.NestedMap(obj.Object, "status"); !ok || observed <= 0 && len(conds) == 0 {
		o.Message = "no status yet"
		return o
	}
	switch {
	case !o.Current:
		o.Message = fmt.Sprintf("the controller has not reconciled generation %d yet (observed %d)", gen, max(observed, ready.ObservedGeneration))
	case hasReady:
		o.Sync = ready.Reason
		o.Health = map[string]string{"True": "Ready", "False": "Not ready"}[ready.Status]
		if o.Health == "" {
			o.Health = "Unknown"
		}
	}

	if obj.GetKind() == "Kustomization" {
		applied := providers.Str(obj, "status", "lastAppliedRevision")
		o.Attempted = providers.RevisionSHA(providers.Str(obj, "status", "lastAttemptedRevision"))
		// A failure before the build (a deleted path: ArtifactFailed) leaves
		// lastAttemptedRevision at the older commit; the revision it failed
		// on is named only in the Reconciling message the controller wrote
		// when it started ("Fetching manifests for revision R with a
		// timeout of T").
		if ready.Status == "False" && reconciling.Status == "True" {
			if m := fetchingRevision.FindStringSubmatch(reconciling.Message); m != nil {
				o.Attempted = providers.RevisionSHA(m[1])
			}
		}
		if sha := providers.RevisionSHA(applied); sha != "" {
			o.Revisions = []string{sha}
		}
		o.Ready = o.Current && ready.Status == "True" && len(o.Revisions) == 1
	} else {
		o.Ready = o.Current && ready.Status == "True"
	}
	// Reconciling=True beside Ready=True: the controller is still at work.
	if reconciling.Status == "True" {
		o.Ready = false
		if ready.Status != "False" && reconciling.Message != "" {
			o.Message = reconciling.Message // a failure's message says more
		}
	}
	o.Failed = o.Current && (stalled.Status == "True" || ready.Status == "False" && terminal[ready.Reason])
	o.Retrying = o.Current && !o.Failed && ready.Status == "False" && retried[ready.Reason]
	if stalled.Status == "True" && stalled.Message != "" {
		o.Message = stalled.Message
	}
	return o
}
