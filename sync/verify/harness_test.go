package verify

import (
	"context"
	"crypto/sha1"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/sync/cluster"
	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

var env *envtest.Environment

func TestMain(m *testing.M) { clustertest.Main(m, &env) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func sha(s string) string { return fmt.Sprintf("%x", sha1.Sum([]byte(s))) }

// The commit graph of every test: old -> M -> descendant.
var (
	shaOld  = sha("old")
	shaM    = sha("merge")
	shaDesc = sha("descendant")
	shaFork = sha("elsewhere")
)

type harness struct {
	t      *testing.T
	objs   clustertest.Objects
	ns     string
	repo   forge.Repo
	checks *forgetest.Checks
	store  *FileStore
	cfg    *rest.Config
	dir    string
	// beforeRun runs after the verifier is made and before it runs.
	beforeRun func(v *Verifier)
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	clustertest.Need(t, env)
	t.Parallel()
	objs := clustertest.NewObjects(t, env)
	ns := objs.Namespace()
	h := &harness{
		t: t, objs: objs, ns: ns,
		// A repository of its own, so that discovery never sees another test's objects.
		repo:   forge.Repo{Host: "github", Owner: "acme", Name: "fleet-" + ns, DefaultBranch: "main", CloneURL: "https://github.com/acme/fleet-" + ns + ".git"},
		checks: newHarnessChecks(),
		cfg:    readerConfig(t),
		dir:    t.TempDir(),
	}
	return h
}

func newHarnessChecks() *forgetest.Checks {
	c := forgetest.NewChecks()
	c.Commit(shaM, shaOld)
	c.Commit(shaDesc, shaM)
	c.Commit(shaFork, shaOld)
	return c
}

var (
	readerOnce sync.Once
	readerCfg  *rest.Config
)

func readerConfig(t *testing.T) *rest.Config {
	readerOnce.Do(func() { readerCfg = clustertest.ReaderConfig(t, env) })
	return rest.CopyConfig(readerCfg)
}

// run starts a verifier on the harness's store, as the restricted user,
// until the returned stop is called (or the test ends).
func (h *harness) run(opts ...func(*Options)) (v *Verifier, stop func()) {
	h.t.Helper()
	c, err := cluster.New("", h.cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	o := Options{Clusters: cluster.Set{"": c}, Connector: h.checks, Log: quiet, SyncWait: 10 * time.Second, TableInterval: 200 * time.Millisecond}
	for _, f := range opts {
		f(&o)
	}
	closeStore := func() {}
	if o.Store == nil {
		store, err := OpenStore(h.dir)
		if err != nil {
			h.t.Fatal(err)
		}
		o.Store, closeStore = store, func() { store.Close() }
	}
	v = New(o)
	if h.beforeRun != nil {
		h.beforeRun(v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { v.Run(ctx); close(done) }()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		<-done
		c.Stop()
		closeStore()
	}
	h.t.Cleanup(stop)
	return v, stop
}

func (h *harness) request(provider string, timeout time.Duration, objects ...providers.Ref) Request {
	return Request{Repo: h.repo, SHA: shaM, PR: 7, Env: "staging", Provider: provider,
		Files: []string{"clusters/staging/podinfo.yaml"}, Objects: objects, Timeout: timeout,
		FailureGrace: 500 * time.Millisecond}
}

// done waits for the check of env to complete and returns it.
func (h *harness) done(env string) forgetest.Record {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if r, ok := h.checks.Find(shaM, CheckName(env)); ok && r.Status == "completed" {
			return r
		}
		if time.Now().After(deadline) {
			r, _ := h.checks.Find(shaM, CheckName(env))
			h.t.Fatalf("check %q did not complete; last: %+v", CheckName(env), r.Check)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reported waits until the check shows status.
func (h *harness) reported(status string) forgetest.Record {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if r, ok := h.checks.Find(shaM, CheckName("staging")); ok && r.Status == status {
			return r
		}
		if time.Now().After(deadline) {
			r, _ := h.checks.Find(shaM, CheckName("staging"))
			h.t.Fatalf("check never %s; last: %+v", status, r.Check)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func expect(t *testing.T, r forgetest.Record, conclusion string, summary ...string) {
	t.Helper()
	if r.Conclusion != conclusion {
		t.Errorf("conclusion %q, want %q; summary:\n%s", r.Conclusion, conclusion, r.Summary)
	}
	for _, s := range summary {
		if !strings.Contains(r.Summary, s) {
			t.Errorf("summary lacks %q:\n%s", s, r.Summary)
		}
	}
	if r.Created != 1 || r.Completions != 1 {
		t.Errorf("check created %d times, completed %d times; want once each", r.Created, r.Completions)
	}
}

// Flux objects: a GitRepository of the harness's repository, the
// Kustomization that applies clusters/staging, and a HelmRelease.

func (h *harness) fluxSource() {
	h.objs.Create(providers.GitRepositoryGVR, fmt.Sprintf(`
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: %s}
spec: {interval: 1m, url: %q, ref: {branch: main}}`, h.ns, strings.TrimSuffix(h.repo.CloneURL, ".git")))
	h.objs.Create(providers.KustomizationGVR, fmt.Sprintf(`
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: %s}
spec: {interval: 10m, path: ./clusters/staging, prune: true, sourceRef: {kind: GitRepository, name: fleet}}`, h.ns))
}

func (h *harness) helmRelease() providers.Ref {
	h.objs.Create(providers.HelmReleaseGVR, fmt.Sprintf(`
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: podinfo, namespace: %s}
spec:
  interval: 5m
  chart: {spec: {chart: podinfo, version: 6.7.0, sourceRef: {kind: HelmRepository, name: podinfo}}}`, h.ns))
	return providers.Ref{APIVersion: "helm.toolkit.fluxcd.io/v2", Kind: "HelmRelease", Namespace: h.ns, Name: "podinfo"}
}

func condition(typ, status, reason, message string) map[string]any {
	return map[string]any{"type": typ, "status": status, "reason": reason, "message": message,
		"lastTransitionTime": time.Now().UTC().Format(time.RFC3339), "observedGeneration": "$generation"}
}

func kustomizationStatus(applied, attempted string, conds ...map[string]any) map[string]any {
	s := map[string]any{"observedGeneration": "$generation", "conditions": toAny(conds)}
	if applied != "" {
		s["lastAppliedRevision"] = "main@sha1:" + applied
	}
	if attempted != "" {
		s["lastAttemptedRevision"] = "main@sha1:" + attempted
	}
	return s
}

func (h *harness) kustomization(status map[string]any) {
	h.objs.SetStatus(providers.KustomizationGVR, h.ns, "apps", status)
}

func ready(rev string) map[string]any {
	return kustomizationStatus(rev, rev, condition("Ready", "True", "ReconciliationSucceeded", "Applied revision: main@sha1:"+rev))
}

// Argo CD objects: a root Application that applies clusters/staging of the
// harness's repository, and the chart Application the pull request manages.

func (h *harness) argoRoot(sources ...string) {
	src := fmt.Sprintf(`source: {repoURL: %q, path: clusters/staging, targetRevision: main}`, h.repo.CloneURL)
	if len(sources) > 0 {
		src = "sources:\n" + strings.Join(sources, "\n")
	}
	h.argoApp("root", src)
}

// argoApp creates an Application whose spec has sources (the YAML of
// spec.source, spec.sources or spec.sourceHydrator, indented by two).
func (h *harness) argoApp(name, sources string) {
	h.objs.Create(providers.ApplicationGVR, fmt.Sprintf(`
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: %s, namespace: %s}
spec:
  project: default
  destination: {server: "https://kubernetes.default.svc", namespace: argocd}
  %s`, name, h.ns, sources))
}

func (h *harness) argoChartApp() providers.Ref {
	h.objs.Create(providers.ApplicationGVR, fmt.Sprintf(`
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: podinfo-staging, namespace: %s}
spec:
  project: default
  destination: {server: "https://kubernetes.default.svc", namespace: podinfo}
  source: {repoURL: "https://stefanprodan.github.io/podinfo", chart: podinfo, targetRevision: 6.7.0}`, h.ns))
	return providers.Ref{APIVersion: "argoproj.io/v1alpha1", Kind: "Application", Namespace: h.ns, Name: "podinfo-staging"}
}

// appStatus is what Argo CD writes after comparing (and syncing) an
// Application: comparedTo mirrors the spec's sources.
func (h *harness) appStatus(name, syncStatus, health string, revisions []string, op map[string]any, extra map[string]any) {
	h.t.Helper()
	app, err := h.objs.Dyn.Resource(providers.ApplicationGVR).Namespace(h.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	compared := map[string]any{"destination": app.Object["spec"].(map[string]any)["destination"]}
	syncSt := map[string]any{"status": syncStatus, "comparedTo": compared}
	if s, ok, _ := unstructured.NestedMap(app.Object, "spec", "source"); ok {
		compared["source"] = s
		syncSt["revision"] = revisions[0]
	}
	if s, ok, _ := unstructured.NestedSlice(app.Object, "spec", "sources"); ok {
		compared["sources"] = s
		syncSt["revisions"] = toAnyStrings(revisions)
	}
	now := time.Now().UTC()
	status := map[string]any{"sync": syncSt, "health": map[string]any{"status": health}, "reconciledAt": now.Format(time.RFC3339)}
	if op != nil {
		op["startedAt"] = now.Add(-time.Second).Format(time.RFC3339)
		op["finishedAt"] = now.Add(-time.Second).Format(time.RFC3339)
		status["operationState"] = op
	}
	for k, v := range extra {
		status[k] = v
	}
	h.objs.SetStatus(providers.ApplicationGVR, h.ns, name, status)
}

func operation(phase, revision, message string) map[string]any {
	return map[string]any{"phase": phase, "message": message,
		"operation":  map[string]any{"sync": map[string]any{"revision": revision}},
		"syncResult": map[string]any{"revision": revision}}
}

func toAny(ms []map[string]any) []any {
	out := make([]any, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}

func toAnyStrings(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
