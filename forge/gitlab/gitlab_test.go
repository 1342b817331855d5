package gitlab_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/forge/hook"
	"github.com/gitops-bot/gitops-bot/forge/hostcall"
	"github.com/gitops-bot/gitops-bot/forge/inbox"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitops-bot/gitops-bot/bot"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/gitlab"
	"github.com/gitops-bot/gitops-bot/forge/gitlab/gitlabtest"
)

const secret = "t0ken"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type recorder struct {
	comments chan forge.CommentEvent
	merges   chan forge.MergeEvent
	pulls    chan forge.PullEvent
}

func newRecorder() *recorder {
	return &recorder{comments: make(chan forge.CommentEvent, 10), merges: make(chan forge.MergeEvent, 10), pulls: make(chan forge.PullEvent, 10)}
}
func (r *recorder) HandlePull(_ context.Context, _ forge.PullForge, ev forge.PullEvent) error {
	r.pulls <- ev
	return nil
}
func (r *recorder) HandleComment(_ context.Context, _ forge.Forge, ev forge.CommentEvent) error {
	r.comments <- ev
	return nil
}
func (r *recorder) HandleMerge(_ context.Context, _ forge.MergeForge, ev forge.MergeEvent) error {
	r.merges <- ev
	return nil
}

func payload(t testing.TB, name string, edits map[string]any) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if len(edits) == 0 {
		return b
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	for path, v := range edits {
		parts := strings.Split(path, ".")
		cur := m
		for _, p := range parts[:len(parts)-1] {
			cur = cur[p].(map[string]any)
		}
		cur[parts[len(parts)-1]] = v
	}
	out, _ := json.Marshal(m)
	return out
}

func deliver(h http.Handler, event, token, uuid string, body []byte) int {
	req := httptest.NewRequest(http.MethodPost, "/api/gitlab/hook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Gitlab-Event", event)
	if token != "" {
		req.Header.Set("X-Gitlab-Token", token)
	}
	if uuid != "" {
		req.Header.Set("X-Gitlab-Event-UUID", uuid)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func webhook(t testing.TB, h gitlab.Handler, api *gl.Client) *gitlab.Webhook {
	t.Helper()
	w, err := gitlab.NewWebhook(api, h, gitlab.Options{Secret: secret, BotUser: "gitops-bot", Options: hook.Options{Log: quiet, Context: t.Context()}})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWebhookEvents(t *testing.T) {
	r := newRecorder()
	w := webhook(t, r, nil)

	if code := deliver(w, "Note Hook", secret, "a", payload(t, "note_merge_request.json", nil)); code != http.StatusAccepted {
		t.Fatalf("note on MR: %d", code)
	}
	ev := <-r.comments
	if !ev.IsPR || ev.Thread != 1 || ev.CommentID != 1244 || ev.Author != "root" || ev.Body != "This MR needs work." ||
		ev.Repo.FullName() != "gitlab-org/gitlab-test" || ev.Repo.DefaultBranch != "master" || ev.Repo.CloneURL != "http://example.com/gitlab-org/gitlab-test.git" {
		t.Errorf("note on MR: %+v", ev)
	}
	deliver(w, "Note Hook", secret, "b", payload(t, "note_issue.json", nil))
	if ev := <-r.comments; ev.IsPR || ev.Thread != 17 || ev.Body != "Hello world" || !ev.Closed { // the documented payload's issue is closed
		t.Errorf("note on issue: %+v", ev)
	}
	if code := deliver(w, "Merge Request Hook", secret, "c", payload(t, "merge_request_merge.json", nil)); code != http.StatusAccepted {
		t.Fatalf("merge: %d", code)
	}
	m := <-r.merges
	if !m.Pull.Merged || m.Pull.Number != 1 || m.Pull.MergeSHA != "78a76ee6b4992a6baf64c59fc4c44c7323d60438" || m.Repo.FullName() != "gitlab-org/hello-world" {
		t.Errorf("merge: %+v", m)
	}
	// Opened, and updated with new commits: the head, for the config check.
	deliver(w, "Merge Request Hook", secret, "d", payload(t, "merge_request.json", nil))
	deliver(w, "Merge Request Hook", secret, "e", payload(t, "merge_request.json", map[string]any{"object_attributes.action": "update",
		"object_attributes.oldrev": "ae73cb07c9eeaf35924a10f713b364d32b2dd34f"}))
	for _, id := range []string{"d", "e"} {
		if p := <-r.pulls; p.Number != 1 || p.HeadSHA != "da1560886d4f094c3e6c9ef40349f7d38b5d27d7" || p.Repo.FullName() != "gitlabhq/gitlab-test" {
			t.Errorf("%s: pull %+v", id, p)
		}
	}

	// Acknowledged, and nothing done.
	for name, c := range map[string]struct {
		event string
		body  []byte
	}{
		"edited note":       {"Note Hook", payload(t, "note_merge_request.json", map[string]any{"object_attributes.action": "update"})},
		"note on a commit":  {"Note Hook", payload(t, "note_merge_request.json", map[string]any{"object_attributes.noteable_type": "Commit"})},
		"the bot's note":    {"Note Hook", payload(t, "note_issue.json", map[string]any{"user.username": "gitops-bot"})},
		"a project bot":     {"Note Hook", payload(t, "note_issue.json", map[string]any{"user.username": "project_5_bot_3c2f"})},
		"retitled MR":       {"Merge Request Hook", payload(t, "merge_request.json", map[string]any{"object_attributes.action": "update"})},
		"closed MR":         {"Merge Request Hook", payload(t, "merge_request.json", map[string]any{"object_attributes.action": "close"})},
		"unsupported event": {"Pipeline Hook", payload(t, "pipeline.json", nil)},
		"push":              {"Push Hook", payload(t, "push.json", nil)},
	} {
		if code := deliver(w, c.event, secret, name, c.body); code != http.StatusAccepted {
			t.Errorf("%s: %d", name, code)
		}
	}
	select {
	case ev := <-r.comments:
		t.Errorf("unexpected comment %+v", ev)
	case ev := <-r.merges:
		t.Errorf("unexpected merge %+v", ev)
	case ev := <-r.pulls:
		t.Errorf("unexpected pull %+v", ev)
	case <-time.After(150 * time.Millisecond):
	}
}

func TestWebhookRefuses(t *testing.T) {
	r := newRecorder()
	w := webhook(t, r, nil)
	body := payload(t, "note_issue.json", nil)
	for name, c := range map[string]struct {
		token string
		body  []byte
		want  int
	}{
		"missing token": {"", body, http.StatusUnauthorized},
		"wrong token":   {"t0kem", body, http.StatusUnauthorized},
		"not JSON":      {secret, []byte("{note"), http.StatusBadRequest},
		"no project":    {secret, payload(t, "note_issue.json", map[string]any{"project": map[string]any{}}), http.StatusBadRequest},
	} {
		if code := deliver(w, "Note Hook", c.token, "", c.body); code != c.want {
			t.Errorf("%s: %d, want %d", name, code, c.want)
		}
	}
	if _, err := gitlab.NewWebhook(nil, r, gitlab.Options{}); err == nil {
		t.Error("a webhook without a secret token was created")
	}
	// A retry of the same event is acknowledged once more and dropped.
	deliver(w, "Note Hook", secret, "same", body)
	deliver(w, "Note Hook", secret, "same", body)
	<-r.comments
	select {
	case ev := <-r.comments:
		t.Errorf("a retry was handled again: %+v", ev)
	case <-time.After(150 * time.Millisecond):
	}
}

const podinfo = "/deploy podinfo --chart https://stefanprodan.github.io/podinfo/podinfo --version 6.7.0 --env staging --set replicaCount=2"

func fakeProject(t testing.TB, files map[string]string) (*gitlabtest.Server, *gl.Client) {
	t.Helper()
	if files == nil {
		files = map[string]string{}
	}
	// The environment directories the default layout expects.
	for _, env := range []string{"staging", "production"} {
		files["clusters/"+env+"/.keep"] = ""
	}
	for i := 0; i < 20; i++ {
		files[fmt.Sprintf("clusters/e%02d/.keep", i)] = ""
	}
	s := gitlabtest.New(t, "gitlab-org/gitlab-test", "glpat-test", files)
	s.AddBranch("master", "main")
	s.SetMember("root", 40)
	s.SetMember("guest", 10)
	api, err := gl.NewClient("glpat-test", gl.WithBaseURL(s.BaseURL()))
	if err != nil {
		t.Fatal(err)
	}
	return s, api
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The real note payload, its body replaced by a command, through the webhook
// into the bot and the fake GitLab: an award, one commit, a merge request, a note.
func TestDeployThroughGitLab(t *testing.T) {
	s, api := fakeProject(t, map[string]string{"README.md": "x\n"})
	w := webhook(t, bot.New(quiet), api)
	noteID := s.AddNote(1, true, "root", podinfo)
	body := payload(t, "note_merge_request.json", map[string]any{"object_attributes.note": podinfo, "object_attributes.id": noteID})
	s.Reset()
	deliver(w, "Note Hook", secret, "d1", body)
	waitFor(t, "the reply", func() bool { return len(s.Notes()) == 2 })

	calls := s.Requests()
	if len(calls) > 6 {
		t.Errorf("%d GitLab calls for one /deploy, want at most 6: %v", len(calls), keys(calls))
	}
	mrs := s.MRs()
	if len(mrs) != 1 || mrs[0].Source != "gitops-bot/deploy-podinfo-staging" || mrs[0].Target != "master" || !strings.Contains(mrs[0].Description, "gitops-bot:marker") {
		t.Fatalf("merge requests %+v", mrs)
	}
	if f, ok := s.File(mrs[0].Source, "clusters/staging/podinfo.yaml"); !ok || !strings.Contains(f, "kind: HelmRelease") {
		t.Errorf("file on the branch: %q", f)
	}
	if parents := s.Parents(mrs[0].Source); len(parents) != 1 || parents[0] != s.Head("master") {
		t.Errorf("not one commit on master: %v", parents)
	}
	// On GitLab "#1" is an issue; the command was given on merge request !1.
	if !strings.Contains(mrs[0].Description, "in !1:") {
		t.Errorf("the description does not link the merge request the command came from: %q", mrs[0].Description)
	}
	notes := s.Notes()
	if len(notes[0].Awards) != 1 || notes[0].Awards[0] != "eyes" || !strings.Contains(notes[1].Body, "Opened !1:") {
		t.Errorf("notes %+v", notes)
	}

	// The same command again: the same branch and merge request, updated.
	noteID = s.AddNote(1, true, "root", podinfo)
	s.Reset()
	deliver(w, "Note Hook", secret, "d2", payload(t, "note_merge_request.json", map[string]any{"object_attributes.note": podinfo, "object_attributes.id": noteID}))
	waitFor(t, "the second reply", func() bool { return len(s.Notes()) == 4 })
	if len(s.MRs()) != 1 || !strings.Contains(s.Notes()[3].Body, "Updated") {
		t.Errorf("second deploy: %d MRs, reply %q", len(s.MRs()), s.Notes()[3].Body)
	}
	// One more than the first: the open merge request is updated in place.
	if n := len(s.Requests()); n > 7 {
		t.Errorf("%d calls for a repeated /deploy: %v", n, keys(s.Requests()))
	}
}

func TestDeployRefusedForGuest(t *testing.T) {
	s, api := fakeProject(t, nil)
	w := webhook(t, bot.New(quiet), api)
	noteID := s.AddNote(17, false, "guest", podinfo)
	deliver(w, "Note Hook", secret, "g", payload(t, "note_issue.json", map[string]any{"object_attributes.note": podinfo, "object_attributes.id": noteID, "user.username": "guest", "issue.state": "opened"}))
	waitFor(t, "the reply", func() bool { return len(s.Notes()) == 2 })
	if len(s.MRs()) != 0 || !strings.Contains(s.Notes()[1].Body, "Sorry @guest") {
		t.Errorf("MRs %d, reply %q", len(s.MRs()), s.Notes()[1].Body)
	}
}

func keys(rs []gitlabtest.Request) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Key()
	}
	return out
}

func TestCommitStatusesAndMergeBase(t *testing.T) {
	s, api := fakeProject(t, nil)
	c := gitlab.NewClient(api)
	ctx := context.Background()
	repo := forge.Repo{Host: "gitlab", Owner: "gitlab-org", Name: "gitlab-test", CloneURL: "http://gitlab.test/gitlab-org/gitlab-test.git"}
	sha := s.Head("main")
	ch := forge.Check{Name: "gitops-bot/sync: staging", ExternalID: "pr/4/env/staging", Status: "queued", Title: "Waiting for default to pick up " + sha[:7]}
	first, err := c.Report(ctx, repo, sha, ch)
	if err != nil {
		t.Fatal(err)
	}
	// Running twice (the table changed): GitLab refuses the same state
	// again with 400; the report is not an error and adds no status.
	ch.Status, ch.Title = "in_progress", "1 of 2 targets applied"
	for i := 0; i < 2; i++ {
		if _, err := c.Report(ctx, repo, sha, ch); err != nil {
			t.Fatalf("running #%d: %v", i+1, err)
		}
		ch.Title = "2 of 2 targets applied"
	}
	ch.Status, ch.Conclusion, ch.Title = "completed", "timed_out", strings.Repeat("long reason ", 40)
	last, err := c.Report(ctx, repo, sha, ch)
	if err != nil {
		t.Fatal(err)
	}
	sts := s.Statuses()
	if len(sts) != 3 || sts[0].State != "pending" || sts[1].State != "running" || sts[2].State != "canceled" || len(sts[2].Description) > 255 ||
		sts[2].TargetURL != "http://gitlab.test/gitlab-org/gitlab-test/-/merge_requests/4" {
		t.Errorf("statuses %+v", sts)
	}
	got, err := c.GetCheck(ctx, repo, sha, first.ID)
	if err != nil || got.ID != last.ID || got.Status != "completed" || got.Conclusion != "cancelled" {
		t.Errorf("GetCheck = %+v, %v", got, err)
	}
	for _, tc := range []struct {
		desc, anc string
		want      bool
	}{{sha, sha, true}, {strings.Repeat("0", 40), sha, false}} {
		if in, err := c.Contains(ctx, repo, tc.desc, tc.anc); err != nil || in != tc.want {
			t.Errorf("Contains(%.7s, %.7s) = %v, %v", tc.desc, tc.anc, in, err)
		}
	}
}

// gitlabCalls runs /deploy to n environments (one file each) on a fresh
// project and returns the API calls it took.
func gitlabCalls(t testing.TB, n int) int {
	s, api := fakeProject(t, nil)
	var envs []string
	for i := 0; i < n; i++ {
		envs = append(envs, fmt.Sprintf("--env e%02d", i))
	}
	cmd := "/deploy podinfo --chart https://stefanprodan.github.io/podinfo/podinfo --version 6.7.0 " + strings.Join(envs, " ")
	id := s.AddNote(1, true, "root", cmd)
	s.Reset()
	ev := forge.CommentEvent{Repo: forge.Repo{Host: "gitlab", Owner: "gitlab-org", Name: "gitlab-test", DefaultBranch: "master", CloneURL: "http://example.com/gitlab-org/gitlab-test.git"},
		Thread: 1, IsPR: true, CommentID: id, Body: cmd, Author: "root"}
	if err := bot.New(quiet).HandleComment(context.Background(), gitlab.NewClient(api), ev); err != nil {
		t.Fatal(err)
	}
	if len(s.MRs()) != 1 {
		t.Fatalf("no merge request: %+v", s.Notes())
	}
	return len(s.Requests())
}

func TestGitLabCallsDoNotGrowWithFiles(t *testing.T) {
	if two, twenty := gitlabCalls(t, 2), gitlabCalls(t, 20); two != twenty || two > 6 {
		t.Errorf("%d calls for 2 files, %d for 20; want equal and at most 6", two, twenty)
	}
}

func BenchmarkGitLabDeployCalls(b *testing.B) {
	for _, n := range []int{2, 20} {
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			calls := 0
			for b.Loop() {
				calls = gitlabCalls(b, n)
			}
			b.ReportMetric(float64(calls), "calls/deploy")
		})
	}
}

func TestOpenRepoByURL(t *testing.T) {
	_, api := fakeProject(t, map[string]string{"README.md": "x\n"})
	c := gitlab.NewClient(api)
	f, r, err := c.OpenRepo(context.Background(), "git@gitlab.test:gitlab-org/gitlab-test.git")
	if err != nil {
		t.Fatal(err)
	}
	if r.FullName() != "gitlab-org/gitlab-test" || r.DefaultBranch != "main" || r.Host != "gitlab" {
		t.Errorf("repo %+v", r)
	}
	if b, err := f.ReadFile(context.Background(), r, "main", "README.md"); err != nil || string(b) != "x\n" {
		t.Errorf("read %q %v", b, err)
	}
	for _, url := range []string{"https://gitlab.test/other/project", "not-a-url"} {
		if _, _, err := c.OpenRepo(context.Background(), url); !errors.Is(err, forge.ErrNotFound) {
			t.Errorf("%s: %v", url, err)
		}
	}
}

// GitLab answering 502 and 429 (with Retry-After) once at each write of a
// proposal: the client's retries, with the bot's policy, land one commit
// and one merge request.
func TestProposeThroughFailingGitLab(t *testing.T) {
	s, _ := fakeProject(t, nil)
	opts := append(gitlab.HostCallOptions(hostcall.Options{SecondaryWait: 20 * time.Millisecond, ErrorWait: 10 * time.Millisecond}), gl.WithBaseURL(s.BaseURL()))
	api, err := gl.NewClient("glpat-test", opts...)
	if err != nil {
		t.Fatal(err)
	}
	project := "/api/v4/projects/" + url.PathEscape("gitlab-org/gitlab-test")
	s.Faults.FailNext("POST "+project+"/repository/commits", forgetest.BadGateway)
	s.Faults.FailNext("POST "+project+"/merge_requests", forgetest.TooManyRequest, forgetest.ServerError)
	c := gitlab.NewClient(api)
	repo := forge.Repo{Host: "gitlab", Owner: "gitlab-org", Name: "gitlab-test", DefaultBranch: "master"}
	pr, err := c.Propose(context.Background(), repo, forge.Change{Base: "master", Branch: "gitops-bot/deploy-web-staging", Title: "Deploy web", Body: "body",
		Message: "Deploy web", Files: []forge.File{{Path: "clusters/staging/web.yaml", Content: []byte("a: 1\n")}}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Faults.Injected() != 3 || len(s.MRs()) != 1 || !pr.Created {
		t.Errorf("%d faults met, %d merge requests, %+v", s.Faults.Injected(), len(s.MRs()), pr)
	}
}

// A note GitLab posted before answering 502 is found by its key, not
// posted again.
func TestReplyAfterAServerErrorIsNotDoubled(t *testing.T) {
	s, _ := fakeProject(t, nil)
	// The client as serve makes it: its retries follow hostcall's policy.
	api, err := gl.NewClient("glpat-test", append(gitlab.HostCallOptions(hostcall.Options{ErrorWait: 10 * time.Millisecond}), gl.WithBaseURL(s.BaseURL()))...)
	if err != nil {
		t.Fatal(err)
	}
	project := "/api/v4/projects/" + url.PathEscape("gitlab-org/gitlab-test")
	s.Faults.FailNext("POST "+project+"/issues/7/notes", forgetest.Fault{Status: 502, Done: true})
	repo := forge.Repo{Host: "gitlab", Owner: "gitlab-org", Name: "gitlab-test", DefaultBranch: "master"}
	if err := gitlab.NewClient(api).Reply(context.Background(), repo, forge.Reply{Thread: 7, Key: "k", Body: "Opened !3", New: true}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, note := range s.Notes() {
		if strings.HasPrefix(note.Body, "Opened !3") {
			n++
		}
	}
	if n != 1 || s.Faults.Injected() != 1 {
		t.Errorf("%d notes, %d faults met", n, s.Faults.Injected())
	}
}

// stalled takes a comment and holds it until the bot stops.
type stalled struct {
	recorder
	got chan struct{}
}

func (s *stalled) HandleComment(ctx context.Context, _ forge.Forge, _ forge.CommentEvent) error {
	close(s.got)
	<-ctx.Done()
	return ctx.Err()
}

// A note acknowledged and cut short by a stop is handled by the next start
// from the inbox, and then leaves it.
func TestKeptDeliveryResumesAfterAStop(t *testing.T) {
	store, err := inbox.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	body := payload(t, "note_issue.json", map[string]any{"object_attributes.note": "/status podinfo", "issue.state": "opened"})

	ctx, stop := context.WithCancel(context.Background())
	first := &stalled{got: make(chan struct{})}
	w1, err := gitlab.NewWebhook(nil, first, gitlab.Options{Secret: secret, Options: hook.Options{Log: quiet, Context: ctx, Inbox: store}})
	if err != nil {
		t.Fatal(err)
	}
	if code := deliver(w1, "Note Hook", secret, "uuid-1", body); code != http.StatusAccepted {
		t.Fatalf("status %d", code)
	}
	<-first.got
	stop()

	r := newRecorder()
	if _, err := gitlab.NewWebhook(nil, r, gitlab.Options{Secret: secret, Options: hook.Options{Log: quiet, Context: t.Context(), Inbox: store}}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-r.comments:
		if ev.Body != "/status podinfo" {
			t.Errorf("resumed %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the kept delivery was not resumed")
	}
	waitFor(t, "the inbox to empty", func() bool { p, _ := store.Pending(context.Background()); return len(p) == 0 })
}

// A merge request that changes .gitops-bot.yaml, opened and then pushed
// to, through the webhook into the bot and the fake GitLab: a failed
// commit status with the error on the bad head, a success on the fix.
func TestConfigCheckThroughGitLab(t *testing.T) {
	s, api := fakeProject(t, map[string]string{".gitops-bot.yaml": "provider: flux\n"})
	w := webhook(t, bot.New(quiet), api)
	push := func(branch, start, content string) string {
		t.Helper()
		opts := &gl.CreateCommitOptions{Branch: gl.Ptr(branch), CommitMessage: gl.Ptr("Configure"), Actions: []*gl.CommitActionOptions{{
			Action: gl.Ptr(gl.FileUpdate), FilePath: gl.Ptr(".gitops-bot.yaml"), Content: gl.Ptr(content)}}}
		if start != "" {
			opts.StartBranch = gl.Ptr(start)
		}
		c, _, err := api.Commits.CreateCommit("gitlab-org/gitlab-test", opts)
		if err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	bad := push("config", "master", "provider: flux\nenvironments:\n  - name: staging\n    dir: clusters/staging\n    clutser: prod\n")
	if _, _, err := api.MergeRequests.CreateMergeRequest("gitlab-org/gitlab-test", &gl.CreateMergeRequestOptions{
		Title: gl.Ptr("Configure staging"), SourceBranch: gl.Ptr("config"), TargetBranch: gl.Ptr("master")}); err != nil {
		t.Fatal(err)
	}
	event := func(id, action, head, oldrev string) {
		edits := map[string]any{"object_attributes.action": action, "object_attributes.iid": 1, "object_attributes.last_commit.id": head,
			"project.path_with_namespace": "gitlab-org/gitlab-test"}
		if oldrev != "" {
			edits["object_attributes.oldrev"] = oldrev
		}
		if code := deliver(w, "Merge Request Hook", secret, id, payload(t, "merge_request.json", edits)); code != http.StatusAccepted {
			t.Fatalf("%s: %d", id, code)
		}
	}
	status := func(sha string) *gitlabtest.Status {
		for _, st := range s.Statuses() {
			if st.SHA == sha && st.Name == bot.ConfigCheckName {
				return &st
			}
		}
		return nil
	}
	event("o1", "open", bad, "")
	waitFor(t, "the status of the bad head", func() bool { return status(bad) != nil })
	if st := status(bad); st.State != "failed" || !strings.Contains(st.Description, "line 5: environments[0].clutser: unknown key") {
		t.Errorf("bad head: %+v", st)
	}
	fixed := push("config", "", "provider: flux\nenvironments:\n  - name: staging\n    dir: clusters/staging\n")
	event("u1", "update", fixed, bad)
	waitFor(t, "the status of the fix", func() bool { return status(fixed) != nil })
	if st := status(fixed); st.State != "success" {
		t.Errorf("fixed head: %+v", st)
	}
}
