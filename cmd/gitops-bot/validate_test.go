package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot/config/yamlconf"
)

// execute runs the command line and returns what it printed and its error.
func execute(args ...string) (string, error) {
	var out bytes.Buffer
	cmd := rootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// What serve refuses at start, validate refuses too, and all of it at
// once: each problem on its own line with the file, the line, the key and
// what was wanted; serve names the same list.
func TestValidateListsWhatServeRefuses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	os.WriteFile(path, []byte(`alerts:
  rules:
    - name: oom
      match: ['alertname="KubePodOOMKilled"']
      repo: acme/fleet
      env: prod
      action: memroy
clusters:
  prod:
    kubeconfig: `+filepath.Join(dir, "missing-kubeconfig")+`
github:
  app:
    integrationID: 1
    webhookSecret: s3cret
    privateKey: not a key
`), 0o600)
	want := []string{
		path + ": line 1: alerts.token: want the token Alertmanager sends",
		path + ": line 7: alerts.rules[0].action: want memory, scale or rollback, not \"memroy\". Did you mean memory?",
		path + ": line 10: clusters.prod.kubeconfig: want a kubeconfig file that loads",
		path + ": line 15: github.app.privateKey: want the PEM file GitHub generated for the App",
	}
	out, err := execute("validate", path)
	if err == nil {
		t.Errorf("validate passed:\n%s", out)
	}
	served, serveErr := execute("serve", "--config", path, "--data-dir", dir, "--listen", "127.0.0.1:0")
	if serveErr == nil {
		t.Fatal("serve started")
	}
	for _, w := range want {
		if n := strings.Count(out, w); n != 1 {
			t.Errorf("validate printed %q %d times, want once:\n%s", w, n, out)
		}
		if !strings.Contains(serveErr.Error(), w) {
			t.Errorf("serve's refusal lacks %q:\n%v\n%s", w, serveErr, served)
		}
	}
	if lines := strings.Count(out, path+": line "); lines != len(want) {
		t.Errorf("%d problems listed, want %d:\n%s", lines, len(want), out)
	}

	// A value from the environment is named by its variable.
	t.Setenv("GITHUB_APP_PRIVATE_KEY", "still not a key")
	out, _ = execute("validate", path)
	if !strings.Contains(out, "GITHUB_APP_PRIVATE_KEY (github.app.privateKey): want the PEM file") || strings.Contains(out, "line 15") {
		t.Errorf("the variable is not named:\n%s", out)
	}
}

// Mistakes in the file's shape are all listed too, not the first alone.
func TestValidateListsEveryKeyItRefuses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(path, []byte("listn: :8080\nqueue:\n  workers: many\n  size: 10\nshutdownGrace: 15\n"), 0o600)
	out, err := execute("validate", path)
	if err == nil {
		t.Errorf("validate passed:\n%s", out)
	}
	for _, w := range []string{
		path + ": line 1: listn: unknown key. Did you mean listen?",
		path + ": line 3: queue.workers: want a whole number, not `many`",
		path + ": line 5: shutdownGrace: want a duration such as 30s, 10m or 1h, not `15`",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// The chart's schema lets through, under config, exactly the keys of the
// server configuration: a new key cannot be forgotten there.
func TestChartSchemaKnowsTheServerKeys(t *testing.T) {
	b, err := os.ReadFile("../../deploy/chart/gitops-bot/values.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties struct {
			Config struct {
				Properties           map[string]any `json:"properties"`
				AdditionalProperties bool           `json:"additionalProperties"`
			} `json:"config"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	var inSchema, inConfig []string
	for k := range schema.Properties.Config.Properties {
		inSchema = append(inSchema, k)
	}
	for k := range yamlconf.Fields(reflect.TypeOf(serverConfig{})) {
		inConfig = append(inConfig, k)
	}
	sort.Strings(inSchema)
	sort.Strings(inConfig)
	if !reflect.DeepEqual(inSchema, inConfig) || schema.Properties.Config.AdditionalProperties {
		t.Errorf("the chart's config keys %v, the server's %v", inSchema, inConfig)
	}
}
