package clustertest

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Procs runs the controllers of a test (Flux's, Argo CD's) as processes
// that stop when the test ends, and keeps what each logs.
type Procs struct {
	// LogsEnv names the variable that, set, prints every log when the test fails.
	LogsEnv string

	mu   sync.Mutex
	logs map[string]*bytes.Buffer
}

// Run starts bin with args and env (added to the test's own environment)
// under name until the test ends.
func (p *Procs) Run(t testing.TB, name, bin string, env []string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	buf := &bytes.Buffer{}
	p.mu.Lock()
	if p.logs == nil {
		p.logs = map[string]*bytes.Buffer{}
	}
	p.logs[name] = buf
	p.mu.Unlock()
	w := &lockedWriter{mu: &p.mu, w: buf}
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
		if t.Failed() && p.LogsEnv != "" && os.Getenv(p.LogsEnv) != "" {
			t.Logf("%s log:\n%s", name, p.Log(name))
		}
	})
}

// Log returns what a process has logged so far.
func (p *Procs) Log(name string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b, ok := p.logs[name]; ok {
		return b.String()
	}
	return ""
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// FreeAddr returns a loopback address no one listens on now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// AdminKubeconfig writes into dir the kubeconfig of a system:masters user
// named name, for a controller to run as, and returns its path.
func AdminKubeconfig(t testing.TB, env *envtest.Environment, name, dir string) string {
	t.Helper()
	user, err := env.AddUser(envtest.User{Name: name, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".kubeconfig")
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Listening says whether something accepts connections on addr.
func Listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
