package verify

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/argocd"
	"github.com/gitops-bot/gitops-bot/providers/flux"
	"github.com/gitops-bot/gitops-bot/sync/cluster"
)

// evaluate applies the success rules (docs/verification.md) to what the caches hold.
// Appliers must report a revision that contains M and be ready (or have
// failed at such a revision); managed objects are judged only once every
// applier is at M, so that a failure from before the merge is not blamed on it.
func (v *Verifier) evaluate(ctx context.Context, c *cluster.Cluster, st *State, checks forge.Checks) ([]Result, Verdict, error) {
	req := st.Request
	results := make([]Result, len(st.Targets))
	appliersDone := true
	for i, t := range st.Targets {
		if t.Role != Applier {
			continue
		}
		r, err := v.judge(ctx, c, req, st.Started, t, checks)
		if err != nil {
			return nil, "", err
		}
		results[i] = r
		appliersDone = appliersDone && r.Verdict == Succeeded
	}
	for i, t := range st.Targets {
		if t.Role != Managed {
			continue
		}
		if !appliersDone {
			results[i] = Result{Ref: t.Ref, Verdict: Waiting, Message: "waiting for the appliers to reach the merge commit"}
			continue
		}
		r, err := v.judge(ctx, c, req, st.Started, t, checks)
		if err != nil {
			return nil, "", err
		}
		results[i] = r
	}
	v.graceRetries(st, results)
	for i := range results {
		if results[i].Verdict == Succeeded || results[i].Verdict == Failed {
			results[i].Took = v.now().Sub(st.Started)
			for _, old := range st.Results { // keep the time of the first verdict
				if old.Ref == results[i].Ref && old.Verdict == results[i].Verdict && old.Took > 0 {
					results[i].Took = old.Took
				}
			}
		}
	}
	return results, rollup(results), nil
}

// graceRetries turns a failure the controller retries into a final one
// when it has lasted the request's grace period, and keeps when each
// target was first seen failing (a new map, so earlier states stay as they
// were). A retry that succeeds first is a success.
func (v *Verifier) graceRetries(st *State, results []Result) {
	now, grace := v.now(), st.Request.failureGrace()
	since := map[string]time.Time{}
	for i := range results {
		r := &results[i]
		key := r.Ref.String()
		if !r.Retrying {
			// Between two attempts the controller reports progress, not the
			// failure (Flux: Ready=Unknown while it retries): the clock runs
			// on until the target succeeds.
			if first, ok := st.FailingSince[key]; ok && r.Verdict != Succeeded && r.Verdict != Failed {
				since[key] = first
			}
			continue
		}
		first, ok := st.FailingSince[key]
		if !ok {
			first = now
		}
		since[key] = first
		if now.Sub(first) >= grace {
			r.Verdict = Failed
			r.Message = fmt.Sprintf("still failing after %s while the controller retried: %s", grace.Round(time.Second), r.Message)
		} else {
			r.Message = fmt.Sprintf("failing, and the controller retries (final after %s): %s", grace.Round(time.Second), r.Message)
		}
	}
	if len(since) == 0 {
		since = nil
	}
	st.FailingSince = since
}

// retryWake is when a verification with failures the controller retries
// must be looked at again even if nothing changes: the end of the first
// grace period still running (zero when none).
func retryWake(st *State) time.Time {
	var wake time.Time
	for _, first := range st.FailingSince {
		if end := first.Add(st.Request.failureGrace()); wake.IsZero() || end.Before(wake) {
			wake = end
		}
	}
	return wake
}

// held is what holds a target still waiting back by design, "" when none.
func held(results []Result) string {
	for _, r := range results {
		if r.Held != "" && r.Verdict != Succeeded {
			return r.Ref.String() + " is " + r.Held
		}
	}
	return ""
}

func rollup(results []Result) Verdict {
	all, any, held := true, false, false
	for _, r := range results {
		switch r.Verdict {
		case Failed:
			return Failed
		case Neutral:
			held = true
		case Succeeded, PickedUp:
			any = true
		}
		all = all && r.Verdict == Succeeded
	}
	switch {
	case held:
		return Neutral // a suspended target will give no verdict: say so now
	case all && len(results) > 0:
		return Succeeded
	case any:
		return PickedUp
	}
	return Waiting
}

// judge reads one target from the cache; started is when the
// verification began.
func (v *Verifier) judge(ctx context.Context, c *cluster.Cluster, req Request, started time.Time, t Target, checks forge.Checks) (Result, error) {
	r := Result{Ref: t.Ref, Verdict: Waiting}
	gvr, ok := providers.GVRForKind(t.Ref.Kind)
	if !ok {
		r.Message = "unknown kind"
		return r, nil
	}
	inf, err := c.Watch(ctx, gvr, v.syncWait)
	if err != nil {
		r.Message = err.Error()
		return r, nil
	}
	obj, ok := c.Get(inf, t.Ref.Namespace, t.Ref.Name)
	if !ok {
		r.Message = "not in the cluster yet"
		return r, nil
	}
	o := observe(obj, req.Repo.CloneURL)
	if obj.GetKind() == "Kustomization" && providers.Str(obj, "spec", "sourceRef", "kind") == "OCIRepository" {
		v.ociRevisions(ctx, c, obj, &o)
	}
	// Argo CD writes times to the second: a comparison in the second the
	// verification began counts as after it.
	if o.Failed && o.Attempted == "" && !o.ComparedAt.IsZero() && o.ComparedAt.Before(started.Truncate(time.Second)) {
		// A failure of a comparison made before the merge: the merge may
		// mend it (a fix of a kustomization that did not build).
		o.Failed, o.Current = false, false
		o.Message = "waiting for Argo CD to compare the merge; before it, it said " + o.Message
	}
	r.Sync, r.Health, r.Message = o.Sync, o.Health, o.Message
	if len(o.Revisions) > 0 {
		r.Revision = o.Revisions[0]
	}

	atM := func(rev string) (bool, error) { return v.contains(ctx, checks, req, rev) }
	allAtM := len(o.Revisions) > 0
	anyAtM := false
	for _, rev := range o.Revisions {
		in, err := atM(rev)
		if err != nil {
			return r, err
		}
		allAtM = allAtM && in
		anyAtM = anyAtM || in
	}
	attemptedAtM := false
	if o.Attempted != "" {
		if attemptedAtM, err = atM(o.Attempted); err != nil {
			return r, err
		}
	}

	tracksRepo := t.Role == Applier || len(o.Revisions) > 0
	r.Verdict, r.Retrying = decide(o, tracksRepo, allAtM, anyAtM, attemptedAtM)
	switch {
	case o.Suspended != "":
		r.Message = o.Suspended
	case (r.Verdict == Failed || r.Retrying) && o.Attempted != "":
		r.Revision = o.Attempted
	case r.Verdict == Waiting && len(o.Revisions) > 0 && !o.Failed && providers.RevisionSHA(o.Revisions[0]) != "":
		// (A branch name, Argo CD's revision when it could not compare, says
		// nothing of the merge: the observation's own message stands.)
		r.Message = fmt.Sprintf("at %.7s, which does not contain the merge commit yet", o.Revisions[0])
	}
	if (r.Verdict == Waiting || r.Verdict == PickedUp) && obj.GetKind() == "Application" {
		if r.Held = v.progressiveHold(ctx, c, obj); r.Held != "" {
			r.Message = r.Held
		}
	}
	return r, nil
}

// decide is the success rule (docs/verification.md) on what a target
// reports: whether its revisions contain the merge (all, any, the one last
// attempted) is asked of the host by the caller. tracksRepo: the target
// reports revisions of this repository (an applier, or an object whose
// source is this repository); others are judged by readiness alone.
// retrying: failing in a way the controller retries, for the grace period
// to decide.
func decide(o providers.Observation, tracksRepo, allAtM, anyAtM, attemptedAtM bool) (v Verdict, retrying bool) {
	failingHere := o.Attempted == "" || attemptedAtM || !tracksRepo
	switch {
	case o.Suspended != "":
		return Neutral, false
	case o.Failed && failingHere:
		return Failed, false
	case o.Retrying && failingHere:
		return PickedUp, true
	case !tracksRepo && o.Ready:
		return Succeeded, false
	case tracksRepo && o.Ready && allAtM:
		return Succeeded, false
	case anyAtM || attemptedAtM || (!tracksRepo && o.Current):
		return PickedUp, false
	}
	return Waiting, false
}

// ociRevisions: a Kustomization of an OCIRepository applied an artifact
// (its revision is a digest); the artifact's metadata names the Git commit
// it was pushed from (flux push artifact --revision), which is what is
// compared with the merge.
func (v *Verifier) ociRevisions(ctx context.Context, c *cluster.Cluster, k *unstructured.Unstructured, o *providers.Observation) {
	inf, err := c.Watch(ctx, providers.OCIRepositoryGVR, v.syncWait)
	if err != nil {
		return
	}
	ns := providers.Str(k, "spec", "sourceRef", "namespace")
	if ns == "" {
		ns = k.GetNamespace()
	}
	src, ok := c.Get(inf, ns, providers.Str(k, "spec", "sourceRef", "name"))
	if !ok {
		return
	}
	digest := providers.Str(src, "status", "artifact", "revision")
	commit := providers.RevisionSHA(providers.Str(src, "status", "artifact", "metadata", "org.opencontainers.image.revision"))
	if digest == "" || commit == "" {
		return
	}
	if providers.Str(k, "status", "lastAppliedRevision") == digest {
		o.Revisions = []string{commit}
		o.Ready = o.Current && o.Health == "Ready"
	}
	if providers.Str(k, "status", "lastAttemptedRevision") == digest {
		o.Attempted = commit
	}
}

// progressiveHold: an Application of an ApplicationSet with a progressive
// sync (RollingSync) is not synced until its step comes; the
// ApplicationSet's status says which step and why it waits. "" when the
// Application is not held.
func (v *Verifier) progressiveHold(ctx context.Context, c *cluster.Cluster, app *unstructured.Unstructured) string {
	for _, owner := range app.GetOwnerReferences() {
		if owner.Kind != "ApplicationSet" {
			continue
		}
		inf, err := c.Watch(ctx, providers.ApplicationSetGVR, v.syncWait)
		if err != nil {
			return ""
		}
		set, ok := c.Get(inf, app.GetNamespace(), owner.Name)
		if !ok {
			return ""
		}
		statuses, _, _ := unstructured.NestedSlice(set.Object, "status", "applicationStatus")
		for _, s := range statuses {
			m, _ := s.(map[string]any)
			str := func(k string) string { v, _ := m[k].(string); return v }
			if str("application") != app.GetName() || (str("status") != "Waiting" && str("status") != "Pending") {
				continue
			}
			held := fmt.Sprintf("held by the progressive sync of ApplicationSet %s/%s at step %s (%s)", app.GetNamespace(), owner.Name, str("step"), str("status"))
			if msg := str("message"); msg != "" {
				held += ": " + msg
			}
			return held
		}
	}
	return ""
}

func observe(obj *unstructured.Unstructured, repoURL string) providers.Observation {
	if obj.GetKind() == "Application" {
		return argocd.Observe(obj, repoURL)
	}
	return flux.Observe(obj)
}

// contains answers "does rev contain M" from a cache in front of the host:
// the answer for two commits never changes.
func (v *Verifier) contains(ctx context.Context, checks forge.Checks, req Request, rev string) (bool, error) {
	rev = providers.RevisionSHA(rev)
	switch {
	case rev == "":
		return false, nil
	case rev == req.SHA:
		return true, nil
	}
	key := req.Repo.Host + "/" + req.Repo.FullName() + "/" + rev + "/" + req.SHA
	if in, ok := v.ancestry.Get(key); ok {
		return in.(bool), nil
	}
	in, err := checks.Contains(ctx, req.Repo, rev, req.SHA)
	if err != nil {
		return false, fmt.Errorf("comparing %.7s with %.7s: %w", rev, req.SHA, err)
	}
	v.ancestry.Add(key, in)
	return in, nil
}
