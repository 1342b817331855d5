package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/lru"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/sync/cluster"
)

var (
	pendingGauge = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "gitops_bot_verifications_pending", Help: "Verifications waiting for a verdict.",
	})
	verdicts = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "gitops_bot_verifications_total", Help: "Completed verifications, by conclusion.",
	}, []string{"conclusion"})
)

// Options configure a Verifier.
type Options struct {
	Store     Store
	Clusters  cluster.Set // by name; "" is the default cluster
	Connector forge.Connector
	Log       *slog.Logger
	Workers   int           // default 4
	SyncWait  time.Duration // how long to wait for an informer's first list; default 30s
	// TableInterval: the least time between two updates of one check that
	// change only its table (default 10s), to stay clear of the host's
	// limits on content-creating requests; a new verdict is sent at once.
	TableInterval time.Duration
	// AdoptEvery: how often a shared store is asked for the verifications
	// of lost replicas (default 10s).
	AdoptEvery time.Duration
	Now        func() time.Time
}

// Verifier runs verifications. Informer events and deadlines put keys on a
// work queue; a worker re-evaluates only the verification of the key.
type Verifier struct {
	store    Store
	adoptGap time.Duration
	clusters cluster.Set
	connect  forge.Connector
	log      *slog.Logger
	workers  int
	syncWait time.Duration
	tableGap time.Duration
	now      func() time.Time
	queue    workqueue.TypedRateLimitingInterface[string]
	ancestry *lru.Cache

	mu       sync.Mutex
	pending  map[string]*State
	watchers map[cluster.Key]map[string]bool // object -> verification keys
}

// New returns a verifier; Run starts it.
func New(o Options) *Verifier {
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.SyncWait <= 0 {
		o.SyncWait = 30 * time.Second
	}
	if o.TableInterval <= 0 {
		o.TableInterval = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.AdoptEvery <= 0 {
		o.AdoptEvery = 10 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	v := &Verifier{
		store: o.Store, clusters: o.Clusters, connect: o.Connector, log: o.Log,
		workers: o.Workers, syncWait: o.SyncWait, tableGap: o.TableInterval, now: o.Now, adoptGap: o.AdoptEvery,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, 5*time.Minute),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "verifications"}),
		ancestry: lru.New(10000),
		pending:  map[string]*State{},
		watchers: map[cluster.Key]map[string]bool{},
	}
	for _, c := range v.clusters {
		c.Subscribe(v.objectChanged)
	}
	return v
}

// Start records a verification and queues it. It is written to the store
// before anything is reported, so a crash right after loses nothing. A new
// request for the same merge and environment replaces a pending one.
func (v *Verifier) Start(ctx context.Context, req Request) error {
	if req.SHA == "" || req.Env == "" {
		return errors.New("verification needs a merge commit and an environment")
	}
	st := &State{Request: req, Started: v.now()}
	key := req.Key()
	// Under the lock, so that Run's resume from the store and a new request
	// never leave two states for one key.
	v.mu.Lock()
	defer v.mu.Unlock()
	if old, ok := v.pending[key]; ok {
		st.CheckID = old.CheckID // report to the same check
		v.unwatchLocked(key, old)
	}
	if err := v.store.Put(ctx, st); err != nil {
		return fmt.Errorf("storing verification: %w", err)
	}
	v.pending[key] = st
	pendingGauge.Set(float64(len(v.pending)))
	v.queue.Add(key)
	return nil
}

// Run resumes the stored verifications and works until ctx is done; with a
// shared store it also takes over those of lost replicas.
func (v *Verifier) Run(ctx context.Context) error {
	stored, err := v.store.All(ctx)
	if err != nil {
		v.log.Error("some stored verifications could not be read", "err", err)
	}
	v.resume(stored)
	v.log.Info("verifier running", "resumed", len(stored))
	// Polled "until done", which never comes: it stops with ctx.
	go wait.PollUntilContextCancel(ctx, v.adoptGap, false, func(ctx context.Context) (bool, error) { //nolint:errcheck // ends with ctx
		adopted, err := v.store.Adopt(ctx)
		if err != nil && ctx.Err() == nil {
			v.log.Warn("looking for verifications of lost replicas", "err", err)
		}
		if len(adopted) > 0 {
			v.log.Info("verifications taken over from a lost replica", "count", len(adopted))
			v.resume(adopted)
		}
		return false, nil
	})

	var wg sync.WaitGroup
	for i := 0; i < v.workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v.work(ctx) {
			}
		}()
	}
	<-ctx.Done()
	v.queue.ShutDown()
	wg.Wait()
	return nil
}

// resume takes stored verifications in hand, unless a newer request for
// the same key is.
func (v *Verifier) resume(stored []*State) {
	v.mu.Lock()
	var keys []string
	for _, st := range stored {
		key := st.Request.Key()
		if _, newer := v.pending[key]; !newer {
			v.pending[key] = st
			if st.Discovered {
				v.watchLocked(key, st)
			}
			keys = append(keys, key)
		}
	}
	pendingGauge.Set(float64(len(v.pending)))
	v.mu.Unlock()
	for _, k := range keys {
		v.queue.Add(k)
	}
}

// Pending counts the verifications without a verdict.
func (v *Verifier) Pending() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.pending)
}

// Snapshot returns copies of the pending verifications as last stored
// (the last reported verdict and rows), oldest first.
func (v *Verifier) Snapshot() []State {
	v.mu.Lock()
	out := make([]State, 0, len(v.pending))
	for _, st := range v.pending {
		out = append(out, *st) // slices are replaced, never changed in place
	}
	v.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.Before(out[j].Started)
		}
		return out[i].Request.Key() < out[j].Request.Key()
	})
	return out
}

func (v *Verifier) work(ctx context.Context) bool {
	key, shutdown := v.queue.Get()
	if shutdown {
		return false
	}
	defer v.queue.Done(key)
	if err := v.process(ctx, key); err != nil {
		if ctx.Err() != nil {
			return false
		}
		v.log.Warn("verification will be retried", "key", key, "err", err)
		v.queue.AddRateLimited(key)
		return true
	}
	v.queue.Forget(key)
	return true
}

// errReplaced stops work on a verification that a new request for the same
// merge and environment replaced meanwhile; that one is queued on its own.
var errReplaced = errors.New("replaced by a newer request")

// step is one pass of process over a verification. States in v.pending are
// never written once they are there (Start and Run read them under the
// lock): a pass works on its own copy, st, and save swaps it in.
type step struct {
	ctx      context.Context
	v        *Verifier
	key      string
	cur, st  *State
	checks   forge.Checks
	clusterN string
}

// save stores the pass's copy in place of the pending state, unless a new
// request replaced that state meanwhile.
func (s *step) save() error {
	v := s.v
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.pending[s.key] != s.cur {
		return errReplaced
	}
	if err := v.store.Put(s.ctx, s.st); err != nil {
		if errors.Is(err, ErrNotHeld) {
			v.dropLocked(s.key, s.cur)
			return errReplaced
		}
		return err
	}
	v.pending[s.key] = s.st
	s.cur, s.st = s.st, s.st.clone()
	return nil
}

// process moves one verification forward: open its check, find its
// targets, evaluate them, report a change, finish it.
func (v *Verifier) process(ctx context.Context, key string) error {
	err := v.processOnce(ctx, key)
	if errors.Is(err, errReplaced) {
		return nil
	}
	return err
}

func (v *Verifier) processOnce(ctx context.Context, key string) error {
	v.mu.Lock()
	cur, ok := v.pending[key]
	v.mu.Unlock()
	if !ok {
		return nil
	}
	req := cur.Request
	checks, err := v.connect.Checks(ctx, req.Repo)
	if err != nil {
		return err
	}
	cl, hasCluster := v.clusters[req.Cluster]
	clusterName := req.Cluster
	if clusterName == "" {
		clusterName = "default"
	}
	s := &step{ctx: ctx, v: v, key: key, cur: cur, st: cur.clone(), checks: checks, clusterN: clusterName}
	st := func() *State { return s.st }

	if st().Completing {
		// The final verdict may have reached the host before a restart.
		if id := st().CheckID; id != 0 {
			if c, err := checks.GetCheck(ctx, req.Repo, req.SHA, id); err == nil && c.Status == "completed" {
				return v.finish(s, Verdict(c.Conclusion))
			}
		}
	}
	if st().CheckID == 0 {
		c, err := checks.Report(ctx, req.Repo, req.SHA, check(st(), Waiting, nil, clusterName, ""))
		if err != nil {
			return fmt.Errorf("creating check: %w", err)
		}
		st().CheckID, st().Reported, st().ReportedAt = c.ID, Waiting, v.now()
		if err := s.save(); err != nil {
			return err
		}
	}
	if !hasCluster {
		return v.complete(ctx, s, Neutral, nil,
			fmt.Sprintf("No cluster named `%s` is configured on the bot, so this environment cannot be verified.", clusterName))
	}
	if !st().Discovered {
		targets, err := v.discover(ctx, cl, req, nil)
		if err != nil {
			if v.now().After(st().deadline()) {
				return v.complete(ctx, s, TimedOut, nil, err.Error())
			}
			return err
		}
		st().Targets, st().Discovered = targets, true
		if err := s.save(); err != nil {
			return err
		}
		v.mu.Lock()
		if v.pending[key] == s.cur {
			v.watchLocked(key, s.cur)
		}
		v.mu.Unlock()
	}
	if len(st().Targets) == 0 {
		return v.complete(ctx, s, Neutral, nil,
			fmt.Sprintf("Nothing in cluster `%s` applies the changed files from this repository, and the pull request names no objects to watch.\n\n%s",
				clusterName, v.explainNoTargets(ctx, cl, req)))
	}

	failing := st().FailingSince
	results, verdict, err := v.evaluate(ctx, cl, st(), checks)
	if err != nil {
		return err
	}
	st().Results = results
	if !sameFailing(failing, st().FailingSince) {
		if err := s.save(); err != nil { // when failures began outlives a restart
			return err
		}
	}
	wake := retryWake(st())
	switch {
	case verdict == Succeeded || verdict == Failed:
		return v.complete(ctx, s, verdict, results, "")
	case verdict == Neutral:
		return v.complete(ctx, s, verdict, results, "A target is suspended, so the cluster will not apply this merge until it is resumed; see the table.")
	case !v.now().Before(st().deadline()) && held(results) != "":
		return v.complete(ctx, s, Neutral, results, "No verdict: the cluster holds this merge back by design ("+held(results)+"); it is applied when the rollout reaches that step.")
	case !v.now().Before(st().deadline()):
		return v.complete(ctx, s, TimedOut, results, "")
	case verdict != st().Reported || tableFingerprint(results) != st().ReportedTable:
		if verdict == st().Reported { // only rows changed: not more often than tableGap
			if wait := st().ReportedAt.Add(v.tableGap).Sub(v.now()); wait > 0 {
				wake = earliest(wake, v.now().Add(wait)) // then the rows as they are by that time
				break
			}
		}
		if _, err := checks.Report(ctx, req.Repo, req.SHA, check(st(), verdict, results, clusterName, "")); err != nil {
			return fmt.Errorf("updating check: %w", err)
		}
		st().Reported, st().ReportedTable, st().ReportedAt = verdict, tableFingerprint(results), v.now()
		if err := s.save(); err != nil {
			return err
		}
	}
	// The work queue keeps one wake-up per key (the earliest), so every
	// pass asks again for the next one it needs; the deadline is always one.
	v.queue.AddAfter(key, earliest(wake, st().deadline()).Sub(v.now())+time.Millisecond)
	return nil
}

func sameFailing(a, b map[string]time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for k, t := range a {
		if !b[k].Equal(t) {
			return false
		}
	}
	return true
}

// complete sends the final verdict, then forgets the verification. The
// verdict is stored first, so a restart in between checks the host before
// sending it again: every check is completed once.
func (v *Verifier) complete(ctx context.Context, s *step, verdict Verdict, results []Result, note string) error {
	s.st.Completing = true
	if err := s.save(); err != nil {
		return err
	}
	st := s.cur
	c := check(st, verdict, results, s.clusterN, note)
	if _, err := s.checks.Report(ctx, st.Request.Repo, st.Request.SHA, c); err != nil {
		return fmt.Errorf("completing check: %w", err)
	}
	if verdict == Failed && st.Request.PR > 0 {
		// Where the host can talk on the pull request, say it there too.
		if r, ok := s.checks.(forge.Responder); ok {
			msg := fmt.Sprintf("%s failed in `%s`: %s\n\nComment `/rollback` here to open a pull request that reverts this change.", c.Name, st.Request.Env, c.Title)
			if err := r.Reply(ctx, st.Request.Repo, forge.Reply{Thread: st.Request.PR, PR: true, Key: "sync-" + st.Request.Env, Body: msg}); err != nil {
				v.log.Warn("could not comment the failure", "key", s.key, "err", err)
			}
		}
	}
	return v.finish(s, verdict)
}

func (v *Verifier) finish(s *step, verdict Verdict) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	key := s.key
	if v.pending[key] != s.cur {
		return nil // replaced by a new request meanwhile: that one goes on
	}
	if err := v.store.Delete(s.ctx, key); err != nil {
		if errors.Is(err, ErrNotHeld) {
			v.dropLocked(key, s.cur)
			return nil
		}
		return err
	}
	v.dropLocked(key, s.cur)
	verdicts.WithLabelValues(string(verdict)).Inc()
	v.log.Info("verification completed", "key", key, "conclusion", verdict)
	return nil
}

// dropLocked forgets a verification: finished, or another replica's now.
func (v *Verifier) dropLocked(key string, st *State) {
	v.unwatchLocked(key, st)
	delete(v.pending, key)
	pendingGauge.Set(float64(len(v.pending)))
}

// earliest of two times, the zero time being "none".
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

// objectChanged is the informers' event handler: it queues only the
// verifications that watch the object.
func (v *Verifier) objectChanged(k cluster.Key) {
	v.mu.Lock()
	keys := make([]string, 0, len(v.watchers[k]))
	for key := range v.watchers[k] {
		keys = append(keys, key)
	}
	v.mu.Unlock()
	for _, key := range keys {
		v.queue.Add(key)
	}
}

func (v *Verifier) watchLocked(key string, st *State) {
	for _, t := range st.Targets {
		ok := targetKey(st.Request.Cluster, t)
		if v.watchers[ok] == nil {
			v.watchers[ok] = map[string]bool{}
		}
		v.watchers[ok][key] = true
	}
}

func (v *Verifier) unwatchLocked(key string, st *State) {
	for _, t := range st.Targets {
		ok := targetKey(st.Request.Cluster, t)
		delete(v.watchers[ok], key)
		if len(v.watchers[ok]) == 0 {
			delete(v.watchers, ok)
		}
	}
}

func targetKey(clusterName string, t Target) cluster.Key {
	gvr, _ := providers.GVRForKind(t.Ref.Kind)
	return cluster.Key{Cluster: clusterName, Resource: gvr, Namespace: t.Ref.Namespace, Name: t.Ref.Name}
}
