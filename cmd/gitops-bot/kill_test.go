package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/forge/github/githubtest"
)

// The real binary, `serve`, killed with SIGKILL three times at random
// points while ten /deploy commands are in flight, then stopped with
// SIGTERM as a rolling update does, and started again on the same data
// directory each time: every acknowledged command completes, once.
func TestKillNineResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "gitops-bot")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building: %v\n%s", err, out)
	}
	gh := githubtest.New(t, "Codertocat", "Hello-World", map[string]string{"README.md": "fleet\n", "clusters/staging/.keep": ""})
	gh.AddBranch("master", "main")
	gh.SetPermission("Codertocat", "write")
	gh.Faults.FailFraction(1, 1, forgetest.Fault{Delay: 150 * time.Millisecond}) // a slow host: commands in flight

	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	cfg := map[string]any{
		"listen": addr, "dataDir": filepath.Join(dir, "data"),
		"github": map[string]any{"v3_api_url": gh.APIURL(), "app": map[string]any{
			"integration_id": 1, "webhook_secret": "s3cret", "private_key": githubtest.PrivateKey(t)}},
		"charts":    map[string]any{"disabled": true},
		"hostCalls": map[string]any{"errorWait": "10ms", "secondaryWait": "20ms"},
	}
	raw, _ := yaml.Marshal(cfg)
	cfgPath := filepath.Join(dir, "serve.yaml")
	os.WriteFile(cfgPath, raw, 0o600) //nolint:errcheck // a temp dir
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve", "--config", cfgPath)
		cmd.Env = append(os.Environ(), "KUBECONFIG=", "HOME="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) //nolint:errcheck // killed or already gone
		eventually(t, "serve ready", func() bool {
			resp, err := http.Get("http://" + addr + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
		return cmd
	}

	cmd := start()
	payload, _ := os.ReadFile("../../forge/github/testdata/issue_comment/created.json")
	var p map[string]any
	json.Unmarshal(payload, &p) //nolint:errcheck // a file of the repository
	const commands = 10
	for i := range commands {
		webhook(t, "http://"+addr, "issue_comment", "issue_comment/created.json", map[string]any{
			"repository": p["repository"], "comment.id": 9000 + i,
			"comment.body": fmt.Sprintf("/deploy web-%d --image ghcr.io/acme/web:1.4.%d --port 8080 --env staging", i, i),
		})
	}
	replies := func() map[string]int {
		out := map[string]int{}
		for _, c := range gh.Comments(1) {
			if c.User != "Codertocat" {
				for i := range commands {
					if strings.Contains(c.Body, fmt.Sprintf("comment-%d ", 9000+i)) {
						out[fmt.Sprint(i)]++
					}
				}
			}
		}
		return out
	}
	deadline := time.Now().Add(2 * time.Minute)
	rnd := rand.New(rand.NewPCG(7, 7))
	for range 3 {
		time.Sleep(time.Duration(500+rnd.IntN(2500)) * time.Millisecond)
		cmd.Process.Kill() //nolint:errcheck // SIGKILL: no shutdown at all
		cmd.Wait()         //nolint:errcheck // killed
		t.Logf("killed with %d pull requests open and %d commands answered", len(gh.Pulls()), len(replies()))
		cmd = start()
	}
	// A rolling update: SIGTERM, a bounded stop, then the next start.
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // the process is running
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of SIGTERM")
	}
	t.Logf("stopped by SIGTERM with %d pull requests open and %d commands answered", len(gh.Pulls()), len(replies()))
	start()
	gh.Faults.FailFraction(0, 0)
	for (len(gh.Pulls()) < commands || len(replies()) < commands) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	heads := map[string]int{}
	for _, pr := range gh.Pulls() {
		heads[pr.Head]++
	}
	if len(gh.Pulls()) != commands || len(heads) != commands {
		t.Errorf("%d pull requests on %d branches, want %d", len(gh.Pulls()), len(heads), commands)
	}
	r := replies()
	if len(r) != commands {
		t.Errorf("replies to %d of %d commands", len(r), commands)
	}
	for k, n := range r {
		if n != 1 {
			t.Errorf("command %s: %d replies", k, n)
		}
	}
}
