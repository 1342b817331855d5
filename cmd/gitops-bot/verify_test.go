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
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gitops-bot/gitops-bot/forge/github/githubtest"
	"github.com/gitops-bot/gitops-bot/forge/gitlab/gitlabtest"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/sync/cluster"
	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

var env *envtest.Environment

func TestMain(m *testing.M) { clustertest.Main(m, &env) }

// hook posts a real GitHub payload, edited, signed, to the server.
func webhook(t testing.TB, url, event, file string, edits map[string]any) {
	t.Helper()
	body := editedPayload(t, "../../forge/github/testdata/"+file, edits)
	code, err := deliverEvent(url, event, event+"-"+time.Now().Format(time.RFC3339Nano), body)
	if err != nil {
		t.Fatal(err)
	}
	if code != http.StatusAccepted {
		t.Fatalf("%s: status %d", event, code)
	}
}

// serveGitHub runs serve as a GitHub App of the fake gh, watching the
// control plane e (if any) as the bot's reader user, until the test ends.
func serveGitHub(t testing.TB, gh *githubtest.Server, e *envtest.Environment, adjust ...func(*serverConfig)) (*server, *httptest.Server) {
	t.Helper()
	s, srv, _, _ := startGitHub(t, gh, e, adjust...)
	return s, srv
}

// serveGitHubLogs is serveGitHub that also hands over serve's log, for
// tests that read it.
func serveGitHubLogs(t testing.TB, gh *githubtest.Server, adjust ...func(*serverConfig)) (*server, *httptest.Server, *syncBuffer) {
	t.Helper()
	s, srv, logs, _ := startGitHub(t, gh, nil, adjust...)
	return s, srv, logs
}

// startGitHub is serveGitHub that can also be stopped before the test
// ends.
func startGitHub(t testing.TB, gh *githubtest.Server, e *envtest.Environment, adjust ...func(*serverConfig)) (*server, *httptest.Server, *syncBuffer, func()) {
	t.Helper()
	cfg := &serverConfig{DataDir: t.TempDir()}
	cfg.GitHub.V3APIURL = gh.APIURL()
	cfg.GitHub.App.IntegrationID = 1
	cfg.GitHub.App.WebhookSecret = "s3cret"
	cfg.GitHub.App.PrivateKey = githubtest.PrivateKey(t)
	cfg.Charts.Disabled = true // no chart repository in reach
	for _, f := range adjust {
		f(cfg)
	}
	clusters := cluster.Set{}
	if e != nil {
		cl, err := cluster.New("", clustertest.ReaderConfig(t, e))
		if err != nil {
			t.Fatal(err)
		}
		clusters[""] = cl
	}
	return startServer(t, cfg, clusters)
}

// startServer runs serve on cfg until the test ends or stop is called.
// Its log is printed when the test fails.
func startServer(t testing.TB, cfg *serverConfig, clusters cluster.Set) (*server, *httptest.Server, *syncBuffer, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	s, err := newServer(ctx, ctx, cfg, clusters, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	var once sync.Once
	stop := func() { once.Do(func() { srv.Close(); cancel(); s.close() }) }
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	return s, srv, logs, stop
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// From a /deploy comment to a completed check run on the merge commit:
// webhooks into serve, a fake GitHub, a real API server.
func TestMergeToCheckRunEndToEnd(t *testing.T) {
	clustertest.Need(t, env)
	merged, _ := os.ReadFile("../../forge/github/testdata/pull_request/closed.merged.json")
	var mp map[string]any
	json.Unmarshal(merged, &mp)
	repository := mp["repository"].(map[string]any) // ailisp/gcbapp-buildconfig-example, default branch master

	gh := githubtest.New(t, "ailisp", "gcbapp-buildconfig-example", map[string]string{"README.md": "x\n", "clusters/staging/.keep": ""})
	gh.AddBranch("master", "main")
	gh.SetPermission("Codertocat", "write")

	objs := clustertest.NewObjects(t, env)
	objs.Create(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, `{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}}`)
	objs.Create(providers.GitRepositoryGVR, `
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: default}
spec: {interval: 1m, url: "https://github.com/ailisp/gcbapp-buildconfig-example", ref: {branch: master}}`)
	objs.Create(providers.KustomizationGVR, `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: flux-system, namespace: default}
spec: {interval: 10m, path: ./clusters/staging, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}`)

	s, srv := serveGitHub(t, gh, env)

	// 1. /deploy in a comment on the repository: the bot opens #1.
	webhook(t, srv.URL, "issue_comment", "issue_comment/created.json", map[string]any{
		"repository":   repository,
		"comment.body": deploy + " --provider flux",
	})
	eventually(t, "the pull request", func() bool { return len(gh.Pulls()) == 1 })
	pr := gh.Pulls()[0]

	// 2. A person merges it; GitHub sends the merged pull_request event.
	sha := gh.Merge(pr.Number)
	webhook(t, srv.URL, "pull_request", "pull_request/closed.merged.json", map[string]any{
		"installation":                  map[string]any{"id": 1},
		"pull_request.number":           pr.Number,
		"pull_request.body":             pr.Body,
		"pull_request.merge_commit_sha": sha,
	})
	eventually(t, "a queued check run", func() bool { return len(gh.CheckRuns()) == 1 })

	// 3. Flux applies the merge commit, then the HelmRelease becomes ready.
	now := time.Now().UTC().Format(time.RFC3339)
	objs.SetStatus(providers.KustomizationGVR, "default", "flux-system", map[string]any{
		"observedGeneration": "$generation", "lastAppliedRevision": "master@sha1:" + sha,
		"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
			"message": "Applied revision: master@sha1:" + sha, "lastTransitionTime": now}},
	})
	eventually(t, "in_progress", func() bool { return gh.CheckRuns()[0].Status == "in_progress" })
	objs.Create(providers.HelmReleaseGVR, `
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: podinfo, namespace: flux-system}
spec: {interval: 5m, chart: {spec: {chart: podinfo, version: 6.7.0, sourceRef: {kind: HelmRepository, name: podinfo}}}}`)
	objs.SetStatus(providers.HelmReleaseGVR, "flux-system", "podinfo", map[string]any{"observedGeneration": "$generation",
		"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "InstallSucceeded", "message": "Helm install succeeded", "lastTransitionTime": now}}})
	objs.Create(providers.HelmRepositoryGVR, `
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: podinfo, namespace: flux-system}
spec: {interval: 1h, url: "https://stefanprodan.github.io/podinfo"}`)
	objs.SetStatus(providers.HelmRepositoryGVR, "flux-system", "podinfo", map[string]any{"observedGeneration": "$generation",
		"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "Succeeded", "message": "stored artifact", "lastTransitionTime": now}}})
	eventually(t, "completion", func() bool { return gh.CheckRuns()[0].Status == "completed" })

	run := gh.CheckRuns()[0]
	if run.Name != "gitops-bot/sync: staging" || run.HeadSHA != sha || run.Conclusion != "success" {
		t.Errorf("check run = %+v", run)
	}
	if got := strings.Join(run.History, ","); got != "queued/,in_progress/,completed/success" {
		t.Errorf("history %s", got)
	}
	for _, want := range []string{"Kustomization/default/flux-system", "HelmRelease/flux-system/podinfo", sha[:7]} {
		if !strings.Contains(run.Summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, run.Summary)
		}
	}
	eventually(t, "the store to empty", func() bool { return s.verifier.Pending() == 0 })

	// 4. "Re-run" on the check: the same check run goes through its states again.
	webhook(t, srv.URL, "check_run", "check_run/rerequested.json", map[string]any{
		"repository":            repository,
		"installation":          map[string]any{"id": 1},
		"check_run.name":        run.Name,
		"check_run.external_id": run.ExternalID,
		"check_run.head_sha":    sha,
	})
	eventually(t, "the re-run", func() bool {
		h := gh.CheckRuns()[0].History
		return len(h) > 3 && h[len(h)-1] == "completed/success"
	})
	if n := len(gh.CheckRuns()); n != 1 {
		t.Errorf("%d check runs after a re-run, want the same one", n)
	}
}

// The same flow on GitLab: a note, a merge request, the Merge Request Hook,
// and commit statuses on the merge commit.
func TestGitLabMergeToCommitStatusEndToEnd(t *testing.T) {
	clustertest.Need(t, env)
	lab := gitlabtest.New(t, "gitlab-org/gitlab-test", "glpat-test", map[string]string{
		".gitops-bot.yaml": "environments:\n- name: staging\n  flux: {namespace: gitlab-flux}\n",
	})
	lab.AddBranch("master", "main")
	lab.SetMember("root", 30) // Developer: may push

	objs := clustertest.NewObjects(t, env)
	objs.Create(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, `{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gitlab-flux"}}`)
	objs.Create(providers.GitRepositoryGVR, `
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: gitlab-flux}
spec: {interval: 1m, url: "http://example.com/gitlab-org/gitlab-test.git", ref: {branch: master}}`)
	objs.Create(providers.KustomizationGVR, `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: fleet, namespace: gitlab-flux}
spec: {interval: 10m, path: ./clusters/staging, prune: true, sourceRef: {kind: GitRepository, name: fleet}}`)

	cfg := &serverConfig{DataDir: t.TempDir()}
	cfg.GitLab = gitlabConfig{BaseURL: lab.BaseURL(), Token: "glpat-test", WebhookSecret: "gl-secret", BotUser: "gitops-bot"}
	cl, err := cluster.New("", clustertest.ReaderConfig(t, env))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := newServer(ctx, ctx, cfg, cluster.Set{"": cl}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer func() { srv.Close(); cancel(); s.close() }()
	post := func(event, file string, edits map[string]any) { gitlabHook(t, srv.URL, event, file, edits) }

	noteID := lab.AddNote(17, false, "root", deploy)
	post("Note Hook", "note_issue.json", map[string]any{"object_attributes.note": deploy, "object_attributes.id": noteID, "issue.state": "opened"})
	eventually(t, "the merge request", func() bool { return len(lab.MRs()) == 1 })
	// The repository was read from its mirror, fetched over git with the
	// bot's token: no file or tree through the API.
	if lab.GitCount.Requests() == 0 {
		t.Error("the mirror was never fetched")
	}
	for _, r := range lab.Requests() {
		if strings.Contains(r.Path, "/repository/tree") || strings.Contains(r.Path, "/repository/files/") {
			t.Errorf("a read through the API: %s %s", r.Method, r.Path)
		}
	}
	mr := lab.MRs()[0]
	sha := lab.Merge(mr.IID)
	merged, _ := os.ReadFile("../../forge/gitlab/testdata/note_issue.json")
	var note map[string]any
	json.Unmarshal(merged, &note)
	post("Merge Request Hook", "merge_request_merge.json", map[string]any{
		"project":                            note["project"],
		"object_attributes.iid":              mr.IID,
		"object_attributes.merge_commit_sha": sha,
		"object_attributes.description":      mr.Description,
		"object_attributes.target_branch":    "master",
	})
	eventually(t, "a pending status", func() bool { return len(lab.Statuses()) >= 1 })

	now := time.Now().UTC().Format(time.RFC3339)
	objs.SetStatus(providers.KustomizationGVR, "gitlab-flux", "fleet", map[string]any{
		"observedGeneration": "$generation", "lastAppliedRevision": "master@sha1:" + sha,
		"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded", "message": "Applied revision: master@sha1:" + sha, "lastTransitionTime": now}},
	})
	eventually(t, "running", func() bool {
		sts := lab.Statuses()
		return sts[len(sts)-1].State == "running"
	})
	for _, kind := range []struct {
		gvr  schema.GroupVersionResource
		body string
	}{
		{providers.HelmRepositoryGVR, `{"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository", "metadata": {"name": "podinfo", "namespace": "gitlab-flux"}, "spec": {"interval": "1h", "url": "https://stefanprodan.github.io/podinfo"}}`},
		{providers.HelmReleaseGVR, `{"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": {"name": "podinfo", "namespace": "gitlab-flux"}, "spec": {"interval": "5m", "chart": {"spec": {"chart": "podinfo", "version": "6.7.0", "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}}}}`},
	} {
		objs.Create(kind.gvr, kind.body)
		objs.SetStatus(kind.gvr, "gitlab-flux", "podinfo", map[string]any{"observedGeneration": "$generation",
			"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "Succeeded", "message": "ready", "lastTransitionTime": now}}})
	}
	eventually(t, "success", func() bool {
		sts := lab.Statuses()
		return sts[len(sts)-1].State == "success"
	})
	var states []string
	for _, st := range lab.Statuses() {
		if st.SHA != sha || st.Name != "gitops-bot/sync: staging" {
			t.Errorf("status %+v", st)
		}
		states = append(states, st.State)
	}
	if got := strings.Join(states, ","); got != "pending,running,success" {
		t.Errorf("states %s", got)
	}
	if last := lab.Statuses()[len(states)-1]; !strings.Contains(last.Description, "applied "+sha[:7]) || !strings.HasSuffix(last.TargetURL, "/-/merge_requests/1") {
		t.Errorf("final status %+v", last)
	}
}

// gitlabHook posts a GitLab hook of the kept payload file, edited at the
// dotted paths given, as GitLab sends it.
func gitlabHook(t testing.TB, url, event, file string, edits map[string]any) {
	t.Helper()
	body := editedPayload(t, "../../forge/gitlab/testdata/"+file, edits)
	req, _ := http.NewRequest(http.MethodPost, url+"/api/gitlab/hook", bytes.NewReader(body))
	req.Header.Set("X-Gitlab-Event", event)
	req.Header.Set("X-Gitlab-Token", "gl-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("%s: %d", event, resp.StatusCode)
	}
}

// editedPayload is the kept payload file with the values at the dotted
// paths given replaced.
func editedPayload(t testing.TB, file string, edits map[string]any) []byte {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	for path, v := range edits {
		parts := strings.Split(path, ".")
		cur := p
		for _, k := range parts[:len(parts)-1] {
			cur = cur[k].(map[string]any)
		}
		cur[parts[len(parts)-1]] = v
	}
	body, _ := json.Marshal(p)
	return body
}
