package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// gitops-bot preview of the bot's own pull request, made locally: the
// environment it reaches, in both formats, and no other.
func TestPreviewCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fleet")
	run(t, "local", "--example", "flux", "--repo", dir, "--user", "alice", "/scale frontend 5 --env production")
	head := "gitops-bot/scale-frontend-production"
	md := run(t, "preview", "--repo", dir, "--base", "main", "--head", head, "--offline")
	for _, want := range []string{"# production: 0 added, 1 changed, 0 removed (success)", "Deployment frontend/frontend changed", "-  replicas: 2", "+  replicas: 5", "| CPU requests | `200m` | `500m` |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "# staging") {
		t.Errorf("staging reads nothing the change touches, yet is previewed:\n%s", md)
	}
	out := run(t, "preview", "--repo", dir, "--base", "main", "--head", head, "--offline", "--format", "json")
	var got struct {
		Environments []struct {
			Env        string `json:"env"`
			Conclusion string `json:"conclusion"`
			Changed    []struct{ Kind, Namespace, Name, Applier string }
			Added      []any `json:"added"`
			Resources  struct {
				CPURequests struct{ From, To string } `json:"cpuRequests"`
			} `json:"resources"`
		} `json:"environments"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(got.Environments) != 1 || got.Environments[0].Env != "production" || got.Environments[0].Added == nil ||
		len(got.Environments[0].Changed) != 1 || got.Environments[0].Changed[0].Kind != "Deployment" || got.Environments[0].Resources.CPURequests.To != "500m" {
		t.Errorf("json:\n%s", out)
	}
}

// A format it does not know is refused; a change that changes nothing
// previews nothing.
func TestPreviewCommandEdges(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fleet")
	run(t, "local", "--example", "flux", "--repo", dir, "--user", "alice", "/help")
	var out bytes.Buffer
	cmd := rootCmd()
	cmd.SetArgs([]string{"preview", "--repo", dir, "--base", "main", "--head", "main", "--format", "xml"})
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	if err := cmd.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "want markdown or json") {
		t.Errorf("--format xml: %v", err)
	}
	same := run(t, "preview", "--repo", dir, "--base", "main", "--head", "main", "--offline")
	if !strings.Contains(same, "No environment reads a file this change touches") {
		t.Errorf("no change:\n%s", same)
	}
}
