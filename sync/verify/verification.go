// Package verify checks, after a merge, that Argo CD or Flux applied the
// merge commit and that what they manage is healthy, and reports it as a
// check on the merge commit. It watches the clusters through shared
// informers and keeps pending verifications in a durable store, so a restart
// picks up where it stopped.
package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers"
)

// Request asks for one environment of one merge to be verified.
type Request struct {
	Repo     forge.Repo
	SHA      string // the merge commit M
	PR       int
	Env      string
	Cluster  string // named cluster; "" is the default one
	Provider string // flux or argocd
	// Files the merge changed: the Kustomizations and Applications whose
	// path holds one of them are verified.
	Files []string
	// Objects the pull request manages in this environment (its marker).
	Objects []providers.Ref
	Timeout time.Duration
	// FailureGrace is how long a failure the controller retries may last
	// before it is final (0: DefaultFailureGrace).
	FailureGrace time.Duration `json:",omitempty"`
}

// DefaultFailureGrace: a failure Flux retries is final after this long.
const DefaultFailureGrace = 5 * time.Minute

func (r Request) failureGrace() time.Duration {
	if r.FailureGrace > 0 {
		return r.FailureGrace
	}
	return DefaultFailureGrace
}

// Role says how a target is judged.
type Role string

const (
	// Applier: a Kustomization or Application that applies this repository;
	// it must report a revision that contains M.
	Applier Role = "applier"
	// Managed: an object the change created or edited (a HelmRelease, an
	// Application of a chart); after its appliers reached M it must be
	// ready at its current spec.
	Managed Role = "managed"
)

// Target is one object a verification watches.
type Target struct {
	Ref  providers.Ref `json:"ref"`
	Role Role          `json:"role"`
}

// Result is the last thing seen of a target, for the check run's table.
type Result struct {
	Ref      providers.Ref `json:"ref"`
	Revision string        `json:"revision,omitempty"`
	Sync     string        `json:"sync,omitempty"`
	Health   string        `json:"health,omitempty"`
	Message  string        `json:"message,omitempty"`
	Verdict  Verdict       `json:"verdict"`
	// Retrying: failing in a way the controller retries (judge's view,
	// before the grace period decides).
	Retrying bool `json:"retrying,omitempty"`
	// Held says what holds the target back by design (an ApplicationSet's
	// progressive sync): still held at the deadline, the check is neutral.
	Held string        `json:"held,omitempty"`
	Took time.Duration `json:"took,omitempty"` // from start to the target's verdict
}

// Verdict of a target or of a whole verification.
type Verdict string

const (
	Waiting   Verdict = "waiting"
	PickedUp  Verdict = "in_progress" // the cluster has seen M but not finished
	Succeeded Verdict = "success"
	Failed    Verdict = "failure"
	TimedOut  Verdict = "timed_out"
	Neutral   Verdict = "neutral" // nothing in the cluster tracks the change
)

// State is a verification as stored: the request, the check it reports to
// and what was last reported.
type State struct {
	Request    Request   `json:"request"`
	Started    time.Time `json:"started"`
	Discovered bool      `json:"discovered"`
	Targets    []Target  `json:"targets,omitempty"`
	CheckID    int64     `json:"checkID,omitempty"`
	Reported   Verdict   `json:"reported,omitempty"` // last status sent to the check
	// ReportedTable fingerprints the table last sent, so a target that moves
	// on is shown even while the overall verdict stays the same.
	ReportedTable string    `json:"reportedTable,omitempty"`
	ReportedAt    time.Time `json:"reportedAt,omitempty"`
	Results       []Result  `json:"results,omitempty"`
	// Completing: the final verdict was decided and is being sent; after a
	// restart the check is read back before sending it again.
	Completing bool `json:"completing,omitempty"`
	// FailingSince: when each target (by ref) was first seen failing in a
	// way its controller retries. Replaced, never changed in place.
	FailingSince map[string]time.Time `json:"failingSince,omitempty"`
}

// Key identifies a verification: one environment of one merge.
func (r Request) Key() string {
	return fmt.Sprintf("%s/%s/%s@%s/%s", r.Repo.Host, r.Repo.Owner, r.Repo.Name, r.SHA, r.Env)
}

// CheckName is the check's name on the commit.
func CheckName(env string) string { return forge.SyncCheckName(env) }

// ExternalID lets a re-run find the pull request and environment again.
func (r Request) ExternalID() string { return forge.SyncCheckID(r.PR, r.Env) }

// clone copies a state for a pass of process. Slices are replaced, never
// changed in place, so a shallow copy is enough.
func (s *State) clone() *State {
	c := *s
	return &c
}

func (s *State) deadline() time.Time { return s.Started.Add(s.Request.Timeout) }

// tableFingerprint is what the check's table shows of each target, less
// the times (which change at every look and are not news).
func tableFingerprint(results []Result) string {
	h := sha256.New()
	for _, r := range results {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%s\x00", r.Ref, r.Verdict, r.Revision, r.Sync, r.Health, r.Message)
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}
