// Package fluxtest runs the real Flux controllers (source-controller,
// kustomize-controller, helm-controller, built by hack/setup-flux.sh and
// found through GITOPS_BOT_FLUX_ASSETS) against a test control plane of
// their own, with their CRDs, so that verification is tested on statuses
// the controllers really write.
package fluxtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

// Flux is a control plane with the Flux controllers running against it.
type Flux struct {
	Env *envtest.Environment
	// Namespace the controllers run in (RUNTIME_NAMESPACE).
	Namespace string

	procs clustertest.Procs
}

// ErrNoAssets: the controllers are not built.
var ErrNoAssets = errors.New("GITOPS_BOT_FLUX_ASSETS is not set: run the tests with hack/test.sh, which builds the Flux controllers (hack/setup-flux.sh)")

// Need returns the controllers' directory, or skips the test when they are
// not built, unless GITOPS_BOT_REQUIRE_FLUX is set (hack/test.sh sets it),
// where it fails.
func Need(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("GITOPS_BOT_FLUX_ASSETS")
	if dir == "" {
		if os.Getenv("GITOPS_BOT_REQUIRE_FLUX") != "" {
			t.Fatal(ErrNoAssets)
		}
		t.Skip(ErrNoAssets)
	}
	return dir
}

// Start starts a control plane with the controllers' own CRDs, and the
// three controllers against it; all stop when the test ends. A controller's
// log is printed when the test fails.
func Start(t testing.TB, assets string) *Flux {
	t.Helper()
	env, err := clustertest.StartWith(func(e *envtest.Environment) {
		e.CRDs = nil
		e.CRDDirectoryPaths = []string{filepath.Join(assets, "crds")}
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &Flux{Env: env, Namespace: "flux-system", procs: clustertest.Procs{LogsEnv: "GITOPS_BOT_FLUX_LOGS"}}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Log("stopping the control plane:", err)
		}
	})

	dir := t.TempDir()
	kc := clustertest.AdminKubeconfig(t, env, "flux", dir)
	storage := clustertest.FreeAddr(t)
	common := func() []string {
		return []string{"--metrics-addr=" + clustertest.FreeAddr(t), "--health-addr=" + clustertest.FreeAddr(t), "--log-level=debug", "--log-encoding=console"}
	}
	f.run(t, assets, "source-controller", kc, append(common(),
		"--storage-path="+mkdir(t, filepath.Join(dir, "artifacts")), "--storage-addr="+storage, "--storage-adv-addr="+storage,
		"--requeue-dependency=2s")...)
	f.run(t, assets, "kustomize-controller", kc, append(common(), "--requeue-dependency=2s")...)
	f.run(t, assets, "helm-controller", kc, append(common(), "--requeue-dependency=2s")...)
	return f
}

// run starts one controller until the test ends.
func (f *Flux) run(t testing.TB, assets, name, kubeconfig string, args ...string) {
	t.Helper()
	f.procs.Run(t, name, filepath.Join(assets, "bin", name), []string{"KUBECONFIG=" + kubeconfig, "RUNTIME_NAMESPACE=" + f.Namespace}, args...)
}

// Log returns what a controller has logged so far.
func (f *Flux) Log(name string) string { return f.procs.Log(name) }

// String names the controllers' control plane, for messages.
func (f *Flux) String() string { return fmt.Sprintf("flux controllers on %s", f.Env.Config.Host) }

func mkdir(t testing.TB, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
