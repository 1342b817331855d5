package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-bot/gitops-bot/bot/alerts"
	"github.com/gitops-bot/gitops-bot/forge/github/githubtest"
	"github.com/gitops-bot/gitops-bot/forge/local"
)

const deploy = "/deploy podinfo --chart https://stefanprodan.github.io/podinfo/podinfo --version 6.7.0 --env staging --set replicaCount=2"

func run(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := rootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("gitops-bot %v: %v\n%s", args, err, out.String())
	}
	return out.String()
}

func TestLocalOnExampleFleets(t *testing.T) {
	for _, example := range []string{"flux", "argocd"} {
		t.Run(example, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "fleet")
			out := run(t, "local", "--example", example, "--repo", dir, "--user", "alice", deploy)
			for _, want := range []string{"Created " + dir, "Pull request that would be opened", "Branch: gitops-bot/deploy-podinfo-staging",
				"+++ b/clusters/staging/podinfo.yaml", "gitops-bot:marker"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			kind := map[string]string{"flux": "+kind: HelmRelease", "argocd": "+kind: Application"}[example]
			if !strings.Contains(out, kind) {
				t.Errorf("diff lacks %q", kind)
			}
			f, err := local.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			r, _ := f.Repo("fleet")
			if _, err := f.ReadFile(context.Background(), r, "gitops-bot/deploy-podinfo-staging", "clusters/staging/podinfo.yaml"); err != nil {
				t.Errorf("branch lacks the file: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "clusters/staging/podinfo.yaml")); !os.IsNotExist(err) {
				t.Error("the work tree was written to")
			}

			again := run(t, "local", "--repo", dir, "--user", "alice", deploy)
			if !strings.Contains(again, "would be updated") || strings.Contains(again, "Created ") {
				t.Errorf("second run:\n%s", again)
			}
		})
	}
}

// A command that fails makes the exit status non-zero; the temporary
// repository of --example is gone afterwards unless --keep.
func TestLocalFailureAndTemporaryRepository(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var out bytes.Buffer
	cmd := rootCmd()
	cmd.SetArgs([]string{"local", "--example", "flux", "--user", "alice", "/help\n/scale nothing-here 3 --env staging"})
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "1 of 2 commands did not succeed: /scale") {
		t.Errorf("err = %v\n%s", err, out.String())
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	out2 := run(t, "local", "--example", "flux", "--keep", "--user", "alice", "/help")
	if left, _ := os.ReadDir(tmp); len(left) != 1 || !strings.Contains(out2, "Created "+filepath.Join(tmp, left[0].Name())) {
		t.Errorf("--keep did not keep the repository: %v\n%s", left, out2)
	}
}

func TestLocalNeedsARepository(t *testing.T) {
	cmd := rootCmd()
	cmd.SetArgs([]string{"local", "/help"})
	cmd.SetOut(io.Discard)
	if err := cmd.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "--repo") {
		t.Errorf("err = %v", err)
	}
	if out := run(t, "version"); !strings.HasPrefix(out, "gitops-bot ") {
		t.Errorf("version: %q", out)
	}
}

func TestConfigFileAndEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	// The snake_case keys of earlier versions are still read, and noted.
	os.WriteFile(path, []byte("listen: :9999\ngithub:\n  v3_api_url: https://ghe.example.com/api/v3/\n  app:\n    integration_id: 7\n    webhookSecret: from-file\n"), 0o600)
	env := map[string]string{"GITHUB_APP_WEBHOOK_SECRET": "from-env", "GITHUB_APP_PRIVATE_KEY": "key"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, notes, err := loadServerConfig(path, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != ":9999" || cfg.GitHub.V3APIURL != "https://ghe.example.com/api/v3/" || cfg.GitHub.App.IntegrationID != 7 ||
		cfg.GitHub.App.WebhookSecret != "from-env" || cfg.GitHub.App.PrivateKey != "key" {
		t.Errorf("config = %+v", cfg)
	}
	if len(notes) != 2 || !strings.Contains(notes[0], "line 3: github.v3_api_url is spelled github.v3APIURL now") {
		t.Errorf("notes = %q", notes)
	}
	for file, want := range map[string]string{
		"github:\n  ap: {}\n":                       path + ": line 2: github.ap: unknown key. Did you mean github.app?",
		"github:\n  app:\n    integrationID: abc\n": path + ": line 3: github.app.integrationID: want a whole number, not `abc`",
		"store:\n  kubernetes: default\n":           path + ": line 2: store.kubernetes: want a mapping (key: value lines), not `default`",
		"shutdownGrace: 15\n":                       path + ": line 1: shutdownGrace: want a duration such as 30s, 10m or 1h, not `15`",
		"dataDir: /data\ndata_dir: /other\n":        path + ": line 2: dataDir: set twice (also on line 1)",
	} {
		os.WriteFile(path, []byte(file), 0o600)
		if _, _, err := loadServerConfig(path, lookup); err == nil || err.Error() != want && !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", file, err, want)
		}
	}
	// A variable that cannot be read is an error, not dropped.
	env["GITHUB_APP_INTEGRATION_ID"] = "abc"
	os.WriteFile(path, nil, 0o600)
	if _, _, err := loadServerConfig(path, lookup); err == nil || !strings.Contains(err.Error(), `GITHUB_APP_INTEGRATION_ID="abc": want the App's ID, a whole number`) {
		t.Errorf("GITHUB_APP_INTEGRATION_ID=abc: err = %v", err)
	}
}

func TestServeRefusesWithoutSecret(t *testing.T) {
	cfg := &serverConfig{}
	cfg.GitHub.App.IntegrationID = 1
	cfg.GitHub.App.PrivateKey = "k"
	_, err := newServer(context.Background(), context.Background(), cfg, nil, slog.Default())
	if err == nil || !strings.Contains(err.Error(), "webhook secret") {
		t.Errorf("err = %v", err)
	}
}

func TestServeEndToEnd(t *testing.T) {
	gh, _ := serveDeploy(t, func(gh *githubtest.Server) string { return gh.WebURL() })
	// Every read came from the mirror: no tree, blob or contents call.
	for _, r := range gh.Requests() {
		if strings.Contains(r.Path, "/git/trees") && r.Method == http.MethodGet || strings.Contains(r.Path, "/git/blobs") || strings.Contains(r.Path, "/contents/") {
			t.Errorf("a read through the API: %s %s?%s", r.Method, r.Path, r.Query)
		}
	}
	if gh.GitCount.Requests() == 0 {
		t.Error("the mirror was never fetched")
	}
}

// When the mirror cannot be fetched, the command still runs: reads go
// through the API along the paths it needs, never a listing of the whole
// tree, and the log says why.
func TestServeReadsThroughTheAPIWhenTheMirrorFails(t *testing.T) {
	gh, logs := serveDeploy(t, func(gh *githubtest.Server) string { return gh.URL + "/no-git-here" })
	head := gh.Head("master")
	root, _ := gh.Git().Commit(head)
	for _, r := range gh.Requests() {
		if strings.HasSuffix(r.Path, "/git/trees/"+root.Tree) && strings.Contains(r.Query, "recursive") {
			t.Errorf("the whole tree was listed: %s?%s", r.Path, r.Query)
		}
	}
	if !strings.Contains(logs.String(), "mirror cannot be fetched") {
		t.Errorf("the log does not say why:\n%s", logs)
	}
	// Each tree and file is read once per command: no GET twice, and no
	// more calls in all than the command needs.
	seen := map[string]int{}
	var calls []string
	for _, r := range gh.Requests() {
		calls = append(calls, r.Method+" "+r.Path+"?"+r.Query)
		if r.Method == http.MethodGet {
			seen[r.Path+"?"+r.Query]++
		}
	}
	for k, n := range seen {
		if n > 1 {
			t.Errorf("GET %s %d times", k, n)
		}
	}
	if len(calls) > 13 {
		t.Errorf("%d calls for one /deploy through the API, want at most 13:\n%s", len(calls), strings.Join(calls, "\n"))
	}
}

// serveDeploy runs /deploy through serve against a fake GitHub whose git
// is served at the URL webURL gives, and returns the fake and the logs.
func serveDeploy(t *testing.T, webURL func(*githubtest.Server) string) (*githubtest.Server, *syncBuffer) {
	gh := githubtest.New(t, "Codertocat", "Hello-World", map[string]string{"README.md": "x\n", "clusters/staging/.keep": ""})
	gh.AddBranch("master", "main")
	gh.SetPermission("Codertocat", "admin")
	logs := &syncBuffer{}

	cfg := &serverConfig{}
	cfg.GitHub.WebURL = webURL(gh)
	cfg.GitHub.V3APIURL = gh.APIURL()
	cfg.GitHub.App.IntegrationID = 1
	cfg.GitHub.App.WebhookSecret = "s3cret"
	cfg.GitHub.App.PrivateKey = githubtest.PrivateKey(t)
	cfg.DataDir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := newServer(ctx, ctx, cfg, nil, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()

	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("healthz %d", code)
	}
	if code, _ := get("/readyz"); code != 503 {
		t.Errorf("readyz before start: %d", code)
	}
	s.readiness.run(ctx, s.checks, slog.New(slog.NewTextHandler(logs, nil)), time.Second)
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("readyz %d", code)
	}

	raw, err := os.ReadFile("../../forge/github/testdata/issue_comment/created.json")
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	json.Unmarshal(raw, &p)
	p["comment"].(map[string]any)["body"] = deploy
	body, _ := json.Marshal(p)
	if code, err := deliver(srv.URL, "72d3162e-cc78-11e3-81ab-4c9367dc0958", body); err != nil || code != http.StatusAccepted {
		t.Fatalf("hook answered %d, %v", code, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(gh.Comments(1)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no reply")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if pulls := gh.Pulls(); len(pulls) != 1 || !strings.Contains(gh.Comments(1)[0].Body, "Opened #1") {
		t.Errorf("pulls %+v, reply %q", pulls, gh.Comments(1)[0].Body)
	}
	_, metrics := get("/metrics")
	for _, want := range []string{`gitops_bot_commands_total{outcome="ok",verb="deploy"}`, `gitops_bot_github_deliveries_total{event="issue_comment",result="accepted"}`, `gitops_bot_pull_requests_total{result="opened"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// The status page shows the host's check and the command with its
	// pull request, and none of the secrets.
	code, page := get("/")
	if code != 200 {
		t.Fatalf("status page %d", code)
	}
	for _, want := range []string{"<td>github</td>", "authenticated as the GitHub App", "Codertocat/Hello-World", "/deploy", ">ok<", "/pull/1\">#1</a>"} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %s:\n%s", want, page)
		}
	}
	if strings.Contains(page, "s3cret") || strings.Contains(page, "PRIVATE KEY") {
		t.Error("the status page shows a secret")
	}
	return gh, logs
}

// syncBuffer is a bytes.Buffer the server's goroutines may write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Alertmanager into serve: the rule opens a pull request in the fleet
// through the App's installation, and the resolution comments on it.
func TestAlertsEndToEnd(t *testing.T) {
	gh := githubtest.New(t, "acme", "fleet", map[string]string{
		".gitops-bot.yaml":              "provider: argocd\n",
		"clusters/staging/podinfo.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: podinfo-staging\n  namespace: argocd\nspec:\n  project: default\n  destination: {server: \"https://kubernetes.default.svc\", namespace: podinfo}\n  source:\n    repoURL: https://stefanprodan.github.io/podinfo\n    chart: podinfo\n    targetRevision: 6.7.0\n    helm:\n      valuesObject:\n        replicaCount: 2\n",
	})
	path := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(path, []byte(`alerts:
  token: am-secret
  rules:
    - name: outofsync
      match: ['alertname="ArgoCdAppOutOfSync"']
      repo: acme/fleet
      env: staging
      workloadLabel: name
      action: scale
      step: "1"
      max: "4"
`), 0o600)
	cfg, _, err := loadServerConfig(path, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = t.TempDir()
	cfg.GitHub.V3APIURL = gh.APIURL()
	cfg.GitHub.App.IntegrationID = 1
	cfg.GitHub.App.WebhookSecret = "s3cret"
	cfg.GitHub.App.PrivateKey = githubtest.PrivateKey(t)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := newServer(ctx, ctx, cfg, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer func() { srv.Close(); cancel(); s.close() }()
	send := func(file, auth string) int {
		body, _ := os.ReadFile("../../bot/alertmanager/testdata/" + file)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/alerts/alertmanager", bytes.NewReader(body))
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send("firing.json", "Bearer wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", code)
	}
	if code := send("firing.json", "Bearer am-secret"); code != http.StatusAccepted {
		t.Fatalf("firing: %d", code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(gh.Pulls()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	pulls := gh.Pulls()
	if len(pulls) != 1 || !strings.Contains(pulls[0].Head, "alert-outofsync-") || !strings.Contains(pulls[0].Title, "Scale podinfo to 3 in staging") {
		t.Fatalf("pulls %+v", pulls)
	}
	send("resolved.json", "Bearer am-secret")
	for len(gh.Comments(pulls[0].Number)) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if cs := gh.Comments(pulls[0].Number); len(cs) != 1 || !strings.Contains(cs[0].Body, "resolved") {
		t.Errorf("comments %+v", cs)
	}
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	metrics := string(raw)
	for _, want := range []string{`gitops_bot_alerts_matched_total{rule="outofsync"}`, `gitops_bot_alert_pull_requests_total{result="opened"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestAlertRulesNeedAToken(t *testing.T) {
	cfg := &serverConfig{}
	cfg.GitLab = gitlabConfig{Token: "t", WebhookSecret: "s"}
	cfg.Alerts.Rules = []alerts.Rule{{Name: "x"}}
	if err := cfg.check(); err == nil || !strings.Contains(err.Error(), "alerts.token") {
		t.Errorf("err = %v", err)
	}
}

// Every day-2 command the README shows runs as written on both example
// fleets (they hold the application it names) and succeeds.
func TestREADMEDay2CommandsRunLocally(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "### Changes to what already runs\n\n```\n")
	block, _, _ = strings.Cut(block, "```")
	if !ok || block == "" {
		t.Fatal("the README has no day-2 block")
	}
	ran := 0
	for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
		if strings.HasPrefix(line, "/rollback") {
			continue // needs a merged pull request
		}
		for _, example := range []string{"flux", "argocd"} {
			out := run(t, "local", "--example", example, "--user", "alice", line)
			if !strings.Contains(out, "Pull request that would be opened") {
				t.Errorf("%s on %s opened nothing:\n%s", line, example, out)
			}
			ran++
		}
	}
	if ran != 8 {
		t.Errorf("ran %d commands, want 4 on each fleet", ran)
	}
}

func noEnv(string) (string, bool) { return "", false }

// validate accepts the shipped configurations (the ConfigMap of deploy/
// too) and names the file, the line and the key of what is wrong.
func TestValidate(t *testing.T) {
	out := run(t, "validate", "../../deploy/base/config.yaml", "../../deploy/replicated/config.yaml",
		"../../examples/flux-fleet/.gitops-bot.yaml", "../../examples/argocd-fleet/.gitops-bot.yaml")
	if strings.Count(out, ": valid\n") != 4 {
		t.Errorf("shipped configurations:\n%s", out)
	}
	dir := t.TempDir()
	repo := filepath.Join(dir, ".gitops-bot.yaml")
	os.WriteFile(repo, []byte("provider: fluxcd\n"), 0o600)
	server := filepath.Join(dir, "config.yaml")
	os.WriteFile(server, []byte("apiVersion: v1\nkind: ConfigMap\ndata:\n  config.yaml: |\n    alerts:\n      tokn: x\n"), 0o600)
	var buf bytes.Buffer
	cmd := rootCmd()
	cmd.SetArgs([]string{"validate", repo, server})
	cmd.SetOut(&buf)
	err := cmd.ExecuteContext(context.Background())
	if err == nil || err.Error() != "2 of 2 files are not valid" {
		t.Errorf("err = %v", err)
	}
	for _, want := range []string{
		repo + ": line 1: provider: `fluxcd` is not a provider; want flux or argocd. Did you mean `flux`?",
		server + ": line 6: alerts.tokn: unknown key. Did you mean alerts.token?",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, buf.String())
		}
	}
}

// The version is the one stamped at build, else the module's, else the
// commit's; "dev" only when nothing tells.
func TestVersionOf(t *testing.T) {
	commit := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-11-22T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	for _, c := range []struct {
		set  string
		bi   *debug.BuildInfo
		want string
	}{
		{"v1.2.3", commit, "v1.2.3"},
		{"dev", &debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"}}, "v0.4.0"},
		{"dev", commit, "dev-0123456789ab-dirty (2026-11-22T10:00:00Z)"},
		{"dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
	} {
		if got := versionOf(c.set, c.bi); got != c.want {
			t.Errorf("versionOf(%q) = %q, want %q", c.set, got, c.want)
		}
	}
}

// serve --help names every route and every variable serve reads.
func TestServeHelpIsComplete(t *testing.T) {
	out := run(t, "serve", "--help")
	for _, want := range []string{"/api/github/hook", "/api/gitlab/hook", "/api/alerts/alertmanager", "/healthz", "/readyz", "/metrics",
		"ALERTMANAGER_TOKEN", "POD_NAME", "--log-level LEVEL", "--config FILE", "gitops-bot validate"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve --help lacks %q:\n%s", want, out)
		}
	}
	for _, e := range (&serverConfig{}).envVars() {
		if !strings.Contains(out, e.name+" ") {
			t.Errorf("serve --help lacks %s", e.name)
		}
	}
}
