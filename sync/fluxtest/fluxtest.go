// Package fluxtest runs the real Flux controllers (source-controller,
// kustomize-controller, helm-controller, built by hack/setup-flux.sh and
// found through GITOPS_BOT_FLUX_ASSETS) against a test control plane of
// their own, with their CRDs, so that verification is tested on statuses
// the controllers really write.
package fluxtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

// Flux is a control plane with the Flux controllers running against it.
type Flux struct {
	Env *envtest.Environment
	// Namespace the controllers run in (RUNTIME_NAMESPACE).
	Namespace string

	mu   sync.Mutex
	logs map[string]*bytes.Buffer
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
	f := &Flux{Env: env, Namespace: "flux-system", logs: map[string]*bytes.Buffer{}}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Log("stopping the control plane:", err)
		}
	})

	user, err := env.AddUser(envtest.User{Name: "flux", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	storage := freeAddr(t)
	common := func() []string {
		return []string{"--metrics-addr=" + freeAddr(t), "--health-addr=" + freeAddr(t), "--log-level=debug", "--log-encoding=console"}
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
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, filepath.Join(assets, "bin", name), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "RUNTIME_NAMESPACE="+f.Namespace)
	buf := &bytes.Buffer{}
	f.mu.Lock()
	f.logs[name] = buf
	f.mu.Unlock()
	w := &lockedWriter{mu: &f.mu, w: buf}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }() //nolint:errcheck // a killed controller's exit is expected
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() && os.Getenv("GITOPS_BOT_FLUX_LOGS") != "" {
			t.Logf("%s log:\n%s", name, f.Log(name))
		}
	})
}

// Log returns what a controller has logged so far.
func (f *Flux) Log(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b, ok := f.logs[name]; ok {
		return b.String()
	}
	return ""
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// freeAddr returns a loopback address no one listens on now.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// String names the controllers' directory, for messages.
func (f *Flux) String() string { return fmt.Sprintf("flux controllers on %s", f.Env.Config.Host) }

func mkdir(t testing.TB, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
