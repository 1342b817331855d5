package verify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

// mortal stands between a verifier and the host: once killed, every call
// fails, as nothing leaves a dead process.
type mortal struct {
	host forge.Checks
	dead *atomic.Bool
}

var errDead = errors.New("the bot was killed")

func (m mortal) Checks(ctx context.Context, r forge.Repo) (forge.Checks, error) {
	if m.dead.Load() {
		return nil, errDead
	}
	return m, nil
}

func (m mortal) Report(ctx context.Context, r forge.Repo, sha string, c forge.Check) (forge.Check, error) {
	if m.dead.Load() {
		return c, errDead
	}
	return m.host.Report(ctx, r, sha, c)
}

func (m mortal) GetCheck(ctx context.Context, r forge.Repo, sha string, id int64) (forge.Check, error) {
	if m.dead.Load() {
		return forge.Check{}, errDead
	}
	return m.host.GetCheck(ctx, r, sha, id)
}

func (m mortal) Contains(ctx context.Context, r forge.Repo, d, a string) (bool, error) {
	if m.dead.Load() {
		return false, errDead
	}
	return m.host.Contains(ctx, r, d, a)
}

// The bot is killed right after its k-th call reached the host (before it
// could record the answer), then started again on the same store: every
// check is created once and completed once.
func TestRestartCompletesEveryCheckOnce(t *testing.T) {
	const envs = 3
	for kill := 1; kill <= 2*envs; kill++ {
		t.Run(fmt.Sprintf("killed after call %d", kill), func(t *testing.T) {
			h := newHarness(t)
			h.fluxSource()
			h.kustomization(ready(shaM))

			dead := &atomic.Bool{}
			var stopFirst func()
			ready := make(chan struct{}) // stopFirst is set
			h.checks.AfterCall = func(n int) {
				if n == kill && !dead.Load() {
					dead.Store(true)
					go func() { <-ready; stopFirst() }()
				}
			}
			// Every verification is recorded before the bot makes its first call.
			h.beforeRun = func(v *Verifier) {
				for i := 0; i < envs; i++ {
					req := h.request("flux", time.Minute)
					req.Env = fmt.Sprintf("staging-%d", i)
					if err := v.Start(context.Background(), req); err != nil {
						t.Fatal(err)
					}
				}
			}
			v, stop := h.run(func(o *Options) { o.Connector = mortal{host: h.checks, dead: dead} })
			h.beforeRun = nil
			var once sync.Once
			stopFirst = func() {
				once.Do(func() {
					v.store.(*FileStore).Close() // nothing is written after the kill
					stop()
				})
			}
			close(ready)
			deadline := time.Now().Add(30 * time.Second)
			for !dead.Load() && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if !dead.Load() {
				t.Fatalf("the bot made fewer than %d calls: the kill point was never reached", kill)
			}
			stopFirst()

			h.checks.AfterCall = nil
			v2, _ := h.run()
			for i := 0; i < envs; i++ {
				expect(t, h.done(fmt.Sprintf("staging-%d", i)), "success")
			}
			if n := len(h.checks.All()); n != envs {
				t.Errorf("%d checks, want %d", n, envs)
			}
			waitFor(t, "the store to empty", func() bool { return v2.Pending() == 0 })
		})
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The API server restarts while the verifier watches: the informers
// reconnect and the verification still completes.
func TestAPIServerRestartMidWatch(t *testing.T) {
	clustertest.Need(t, env)
	own, err := clustertest.StartWith(func(e *envtest.Environment) {
		api := e.ControlPlane.GetAPIServer()
		api.CertDir = t.TempDir() // kept across the restart
		// Close open watches on shutdown instead of waiting for them to time out.
		api.Configure().Set("shutdown-watch-termination-grace-period", "2s")
	})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Stop()
	h := &harness{t: t, objs: clustertest.NewObjects(t, own), checks: newHarnessChecks(), cfg: own.Config, dir: t.TempDir()}
	h.ns = h.objs.Namespace()
	h.repo = forge.Repo{Host: "github", Owner: "acme", Name: "fleet", CloneURL: "https://github.com/acme/fleet"}
	h.fluxSource()
	v, _ := h.run()
	v.Start(context.Background(), h.request("flux", time.Minute))
	h.reported("queued")
	waitFor(t, "the targets to be found", func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		st := v.pending[h.request("flux", 0).Key()]
		return st != nil && st.Discovered
	})

	api := own.ControlPlane.GetAPIServer()
	began := time.Now()
	if err := api.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped in %s", time.Since(began))
	if err := api.Start(); err != nil {
		t.Fatal(err)
	}
	h.kustomization(ready(shaM))
	expect(t, h.done("staging"), "success", "Kustomization/"+h.ns+"/apps")
}
