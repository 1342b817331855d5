package verbs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot/bottest"
)

func TestPlanShowsDiffAndOpensNothing(t *testing.T) {
	f := bottest.Fleet(t, "flux", nil)
	reply := bottest.Handle(t, f, "/plan "+strings.TrimPrefix(web, "/"))
	if len(f.Proposals()) != 0 || len(f.PullRequests()) != 0 {
		t.Fatal("/plan opened something")
	}
	for _, want := range []string{"Plan for", "Nothing was opened", "```diff", "--- /dev/null", "+++ b/apps/base/web/deployment.yaml", "+  replicas: 1", "| `production` | Kustomization |"} {
		if !strings.Contains(reply, want) {
			t.Errorf("plan lacks %q:\n%s", want, reply)
		}
	}
	if strings.Contains(reply, "| `` |") || !strings.Contains(reply, "|  | Deployment |  | `web` |") {
		t.Errorf("an empty cell is not empty:\n%s", reply)
	}
	if !strings.Contains(reply, "@@ -0,0 +1,") {
		t.Errorf("a new file's hunk does not start from nothing:\n%s", reply)
	}
	dir := applies(t, f.Snapshot(), reply)
	if b, err := os.ReadFile(filepath.Join(dir, "apps/base/web/deployment.yaml")); err != nil || !strings.Contains(string(b), "replicas: 1") {
		t.Errorf("the applied diff did not create the file: %v %q", err, b)
	}
	reply = bottest.Handle(t, f, "/plan /deploy podinfo --chart https://stefanprodan.github.io/podinfo/podinfo --version 6.7.0 --env staging")
	if !strings.Contains(reply, "+kind: HelmRelease") || len(f.Proposals()) != 0 {
		t.Errorf("plan of a chart:\n%s", reply)
	}
	for cmd, want := range map[string]string{"/plan": "missing the command", "/plan /help": "does not change files", "/plan /nope": "there is no command /nope", "/plan /sacle web 2": "Did you mean `/scale`?"} {
		if reply := bottest.Handle(t, f, cmd); !strings.Contains(reply, want) {
			t.Errorf("%s: %s", cmd, reply)
		}
	}
}

func TestPlanOfDay2(t *testing.T) {
	f := bottest.Fleet(t, "flux", nil)
	bottest.Merged(t, f, web)
	n := len(f.Proposals())
	reply := bottest.Handle(t, f, "/plan /scale web 3 --env staging")
	if len(f.Proposals()) != n || !strings.Contains(reply, "-- count: 2") || !strings.Contains(reply, "+- count: 3") {
		t.Errorf("plan:\n%s", reply)
	}
	applies(t, f.Snapshot(), reply)
	if strings.Contains(reply, "| environment |") {
		t.Errorf("a day-2 plan shows an object table with no rows:\n%s", reply)
	}
	bottest.Handle(t, f, "/scale web 3 --env staging")
	if ps := f.Proposals(); len(ps) != n+1 || strings.Contains(ps[n].Body, "| environment |") || !strings.Contains(ps[n].Body, "After the merge") {
		t.Errorf("a day-2 pull request shows an object table with no rows: %+v", ps[len(ps)-1].Body)
	}
}

// applies writes files to a directory and applies the reply's diff there
// with git, as a reader of the plan would; it returns the directory.
func applies(t *testing.T, files map[string]string, reply string) string {
	t.Helper()
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed")
	}
	start := strings.Index(reply, "```diff\n")
	end := strings.LastIndex(reply, "\n```")
	if start < 0 || end < start {
		t.Fatalf("no diff in the reply:\n%s", reply)
	}
	dir := t.TempDir()
	for p, body := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	patch := filepath.Join(t.TempDir(), "plan.diff")
	if err := os.WriteFile(patch, []byte(reply[start+len("```diff\n"):end+1]), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(git, "apply", "--verbose", patch)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git apply: %v\n%s\n%s", err, out, reply)
	}
	return dir
}

// /plan shows what each environment would get, as the pull request's
// preview check would: the environment the change reaches, and no other.
func TestPlanShowsThePreview(t *testing.T) {
	f := bottest.Fleet(t, "flux", nil)
	reply := bottest.Handle(t, f, "/plan /scale frontend 5 --env production")
	for _, want := range []string{"### What each environment would get", "production: 0 added, 1 changed, 0 removed", "| CPU requests | `200m` | `500m` |"} {
		if !strings.Contains(reply, want) {
			t.Errorf("reply lacks %q:\n%s", want, reply)
		}
	}
	if strings.Contains(reply, "staging: ") {
		t.Errorf("staging reads nothing the change writes, yet is previewed:\n%s", reply)
	}
}
