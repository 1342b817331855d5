// Package bottest drives the bot in tests the way a host would: a comment on
// a fake forge holding an example fleet, and the reply and proposals read
// back. Verb tests (bot/verbs) and the comment-flow tests share it.
package bottest

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/bot"
	"github.com/gitops-bot/gitops-bot/examples"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/sync/verify"
)

// Update rewrites golden files (go test -update).
var Update = flag.Bool("update", false, "rewrite golden files")

// Quiet is a logger for tests.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Repo is the repository the fakes stand for.
var Repo = forge.Repo{Host: "github", Owner: "acme", Name: "fleet", DefaultBranch: "main", CloneURL: examples.URL}

// Commands the tests use often.
const (
	Podinfo = "/deploy podinfo --chart https://stefanprodan.github.io/podinfo/podinfo --version 6.7.0 --env staging --set replicaCount=2"
	Web     = "/deploy web --image ghcr.io/acme/web:1.4.2 --port 8080 --env staging --env production --replicas 2 --ingress web.example.com"
)

// NewFake returns a fake forge with files, where alice may write and rita
// may read. Unless files have a clusters/ directory of their own, the
// repository has the default layout's clusters/staging and
// clusters/production, as a repository the defaults fit has.
func NewFake(files map[string]string) *forgetest.Fake {
	if files == nil {
		files = map[string]string{}
	}
	hasClusters := false
	for p := range files {
		hasClusters = hasClusters || strings.HasPrefix(p, "clusters/")
	}
	if !hasClusters {
		files["clusters/staging/.keep"] = ""
		files["clusters/production/.keep"] = ""
	}
	f := forgetest.New(files)
	f.Permissions["alice"] = forge.PermWrite
	f.Permissions["rita"] = forge.PermRead
	return f
}

// Fleet returns a fake forge holding an example fleet, plus extra files.
func Fleet(t testing.TB, name string, extra map[string]string) *forgetest.Fake {
	t.Helper()
	files, err := examples.Files(name, examples.URL)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range extra {
		files[k] = v
	}
	return NewFake(files)
}

// Comment is a new comment on thread 7 of Repo.
func Comment(id int64, user, body string) forge.CommentEvent {
	return forge.CommentEvent{Repo: Repo, Thread: 7, CommentID: id, Author: user, Body: body}
}

// HandleEvent runs a comment through b (a new bot when nil) and returns the reply to it.
func HandleEvent(t testing.TB, b *bot.Bot, f *forgetest.Fake, ev forge.CommentEvent) string {
	t.Helper()
	if b == nil {
		b = bot.New(Quiet)
	}
	if err := b.HandleComment(context.Background(), f, ev); err != nil {
		t.Fatalf("HandleComment: %v", err)
	}
	for _, r := range f.Replies() {
		if r.Key == "comment-"+strconv.FormatInt(ev.CommentID, 10) && r.Thread == ev.Thread {
			return r.Body
		}
	}
	return ""
}

// Handle runs alice's comment and returns the reply.
func Handle(t testing.TB, f *forgetest.Fake, body string) string {
	t.Helper()
	return HandleEvent(t, nil, f, Comment(1, "alice", body))
}

// Merged runs a command and merges its proposal into the fake's files.
func Merged(t testing.TB, f *forgetest.Fake, cmd string) {
	t.Helper()
	before := len(f.Proposals())
	reply := Handle(t, f, cmd)
	ps := f.Proposals()
	if len(ps) != before+1 {
		t.Fatalf("%s proposed nothing: %s", cmd, reply)
	}
	for _, file := range ps[len(ps)-1].Files {
		if file.Delete {
			delete(f.Files, file.Path)
			continue
		}
		f.Files[file.Path] = string(file.Content)
	}
}

// LastChange returns the files of the last proposal, and fails when the
// command proposed nothing since before.
func LastChange(t testing.TB, f *forgetest.Fake, before int) map[string]string {
	t.Helper()
	ps := f.Proposals()
	if len(ps) != before+1 {
		t.Fatalf("no proposal; replies:\n%v", f.Replies())
	}
	out := map[string]string{}
	for _, file := range ps[len(ps)-1].Files {
		out[file.Path] = string(file.Content)
	}
	return out
}

// OnlyLinesChanged checks that new differs from old in exactly the given
// replacements (old, new, old, new...), byte for byte everywhere else.
func OnlyLinesChanged(t testing.TB, old, new string, repl ...string) {
	t.Helper()
	want := old
	for i := 0; i+1 < len(repl); i += 2 {
		if !strings.Contains(want, repl[i]) {
			t.Fatalf("%q not in the old file:\n%s", repl[i], old)
		}
		want = strings.Replace(want, repl[i], repl[i+1], 1)
	}
	if new != want {
		t.Errorf("edit changed more than it should:\n got:\n%s\nwant:\n%s", new, want)
	}
}

// Golden compares the files of the one proposal with testdata/golden/NAME.txt.
func Golden(t *testing.T, name string, f *forgetest.Fake) {
	t.Helper()
	ps := f.Proposals()
	if len(ps) != 1 {
		t.Fatalf("proposals = %d; replies %v", len(ps), f.Replies())
	}
	var b strings.Builder
	for _, file := range ps[0].Files {
		b.WriteString("=== " + file.Path + "\n")
		b.Write(file.Content)
	}
	path := filepath.Join("testdata", "golden", name+".txt")
	if *Update {
		os.WriteFile(path, []byte(b.String()), 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("%s differs; got:\n%s", path, b.String())
	}
}

// Docs splits a generated file into its objects.
func Docs(t testing.TB, content []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, d := range strings.Split(string(content), "\n---\n") {
		m := map[string]any{}
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatalf("generated YAML does not parse: %v\n%s", err, d)
		}
		out = append(out, m)
	}
	return out
}

// RecordingVerifier records the verifications the bot starts.
type RecordingVerifier struct {
	mu   sync.Mutex
	Reqs []verify.Request
}

// Start implements bot.Verifier.
func (v *RecordingVerifier) Start(_ context.Context, r verify.Request) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.Reqs = append(v.Reqs, r)
	return nil
}

// MergeSHA is the merge commit of MergedBotPull.
const MergeSHA = "1111111111111111111111111111111111111111"

// MergedBotPull is a bot pull request, opened by /deploy of podinfo to
// staging and production, then merged as pull request 100.
func MergedBotPull(t testing.TB, f *forgetest.Fake) forge.PullInfo {
	t.Helper()
	HandleEvent(t, nil, f, Comment(1, "alice", Podinfo+" --env production"))
	body := f.Proposals()[0].Body
	return forge.PullInfo{Number: 100, Merged: true, MergeSHA: MergeSHA, Base: "main", Body: body}
}
