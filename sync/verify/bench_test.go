package verify

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/sync/cluster"
	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

// requestCounter counts the bot's requests to the API server by kind.
type requestCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *requestCounter) wrap(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(r *http.Request) (*http.Response, error) {
			kind := r.Method
			switch {
			case r.Method == http.MethodGet && r.URL.Query().Get("watch") == "true":
				kind = "WATCH"
			case r.Method == http.MethodGet:
				kind = "LIST-OR-GET " + r.URL.Path
			}
			c.mu.Lock()
			c.counts[kind]++
			c.mu.Unlock()
			return rt.RoundTrip(r)
		})
	}
	return cfg
}

func (c *requestCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// While verifications wait, the bot's only requests are its informers'
// list and watch: one list per resource type, then watches.
func TestWaitingMakesOnlyListAndWatch(t *testing.T) {
	h := newHarness(t)
	h.fluxSource()
	counter := &requestCounter{counts: map[string]int{}}
	h.cfg = counter.wrap(h.cfg)
	v, _ := h.run()
	for i := 0; i < 10; i++ {
		req := h.request("flux", time.Minute)
		req.Env = fmt.Sprintf("e%d", i)
		v.Start(context.Background(), req)
	}
	waitFor(t, "ten checks", func() bool { return len(h.checks.All()) == 10 })
	// Status changes that do not decide anything: the verifier re-evaluates from its cache.
	for i := 0; i < 5; i++ {
		h.kustomization(ready(shaOld))
	}
	time.Sleep(time.Second)
	got := counter.snapshot()
	for kind, n := range got {
		switch kind {
		case "WATCH":
		case "LIST-OR-GET /apis/kustomize.toolkit.fluxcd.io/v1/kustomizations", "LIST-OR-GET /apis/source.toolkit.fluxcd.io/v1/gitrepositories":
			if n != 1 {
				t.Errorf("%d lists of %s, want 1", n, kind)
			}
		default:
			t.Errorf("unexpected request %s (%d times)", kind, n)
		}
	}
	if got["WATCH"] == 0 {
		t.Errorf("no watch: %v", got)
	}
}

// BenchmarkPendingVerifications: 1,000 or 10,000 verifications wait, each
// on its own Kustomization; then Kustomizations become ready one at a time
// (b.N of them: run with -benchtime 200x for percentiles) and the time from
// the status write to the check's completion request is measured. Also
// reported: heap per pending verification, and the requests that are not
// the informers' list and watch (want 0).
func BenchmarkPendingVerifications(b *testing.B) {
	clustertest.Need(b, env)
	for _, pending := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) { benchPending(b, pending) })
	}
}

func benchPending(b *testing.B, pending int) {
	objs := clustertest.NewObjects(b, env)
	ns := objs.Namespace()
	// A repository per run: the informers see the objects of earlier runs too.
	repo := forge.Repo{Host: "github", Owner: "acme", Name: "bench-" + ns, CloneURL: "https://github.com/acme/bench-" + ns}
	objs.Create(providers.GitRepositoryGVR, fmt.Sprintf(`{"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
		"metadata": {"name": "bench", "namespace": %q}, "spec": {"interval": "1m", "url": %q}}`, ns, repo.CloneURL))
	for i := 0; i < pending; i++ {
		objs.Create(providers.KustomizationGVR, fmt.Sprintf(`{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
			"metadata": {"name": "k%d", "namespace": %q}, "spec": {"interval": "10m", "path": "./clusters/e%d", "prune": true,
			"sourceRef": {"kind": "GitRepository", "name": "bench"}}}`, i, ns, i))
	}

	checks := forgetest.NewChecks()
	var completedAt sync.Map // check name -> time
	counter := &requestCounter{counts: map[string]int{}}
	store, err := OpenStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	c, _ := cluster.New("", counter.wrap(clustertest.ReaderConfig(b, env)))
	defer c.Stop()
	v := New(Options{Store: store, Clusters: cluster.Set{"": c}, Connector: completionClock{checks, &completedAt}, Log: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The informer caches hold the cluster's objects whatever is pending:
	// fill them first, so that only the verifications are measured.
	for _, gvr := range []schema.GroupVersionResource{providers.KustomizationGVR, providers.GitRepositoryGVR} {
		if _, err := c.Watch(ctx, gvr, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < pending; i++ {
		v.Start(ctx, Request{Repo: repo, SHA: shaM, PR: 1, Env: fmt.Sprintf("e%d", i), Provider: "flux",
			Files: []string{fmt.Sprintf("clusters/e%d/app.yaml", i)}, Timeout: time.Hour})
	}
	go v.Run(ctx)
	waitDiscovered := func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		for _, st := range v.pending {
			if !st.Discovered || st.CheckID == 0 {
				return false
			}
		}
		return true
	}
	for !waitDiscovered() {
		time.Sleep(20 * time.Millisecond)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	perVerification := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(pending)

	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N && i < pending; i++ {
		name := fmt.Sprintf("k%d", i)
		start := time.Now()
		objs.SetStatus(providers.KustomizationGVR, ns, name, ready(shaM))
		check := CheckName(fmt.Sprintf("e%d", i))
		for {
			if t, ok := completedAt.Load(check); ok {
				lat = append(lat, t.(time.Time).Sub(start))
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(perVerification, "heap-B/pending")
	other := 0
	for kind, n := range counter.snapshot() {
		if kind != "WATCH" && kind != "LIST-OR-GET /apis/kustomize.toolkit.fluxcd.io/v1/kustomizations" && kind != "LIST-OR-GET /apis/source.toolkit.fluxcd.io/v1/gitrepositories" {
			other += n
		}
	}
	b.ReportMetric(float64(other), "non-informer-requests")
}

// completionClock notes when each check's completion request is made.
type completionClock struct {
	host *forgetest.Checks
	at   *sync.Map
}

func (c completionClock) Checks(ctx context.Context, r forge.Repo) (forge.Checks, error) {
	return c, nil
}

func (c completionClock) Report(ctx context.Context, r forge.Repo, sha string, ch forge.Check) (forge.Check, error) {
	if ch.Status == "completed" {
		c.at.Store(ch.Name, time.Now())
	}
	return c.host.Report(ctx, r, sha, ch)
}

func (c completionClock) GetCheck(ctx context.Context, r forge.Repo, sha string, id int64) (forge.Check, error) {
	return c.host.GetCheck(ctx, r, sha, id)
}

func (c completionClock) Contains(ctx context.Context, r forge.Repo, d, a string) (bool, error) {
	return c.host.Contains(ctx, r, d, a)
}
