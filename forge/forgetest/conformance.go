package forgetest

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/forge"
)

// Subject is a forge under the conformance test, with the host-side
// actions the test needs.
type Subject struct {
	Forge forge.Forge
	Repo  forge.Repo
	// Head returns a branch's commit as the host holds it.
	Head func(branch string) string
	// Merge merges the pull request opened for a branch, as the host does,
	// and returns the merge commit; nil where the host has no pull requests.
	Merge func(pr *forge.PullRequest) string
	// Replies returns the bodies of the bot's replies on a thread, as they
	// stand; nil where the host keeps none.
	Replies func(thread int) []string
	// Comment puts a person's comment on a thread and returns its ID.
	Comment func(thread int) int64
}

// ConformanceFiles is the repository every subject starts with, on the
// branch Subject.Repo.DefaultBranch.
var ConformanceFiles = map[string]string{
	"README.md":                       "fleet\n",
	"clusters/staging/podinfo.yaml":   "replicas: 1\n",
	"clusters/production/podinfo.yml": "replicas: 2\n",
}

// Conformance is the test every forge implementation passes: reads,
// proposals that are idempotent per branch (one commit on the base, the
// same pull request), replies upserted by key, reactions that know a
// second time, and, where the host has pull requests, a merge read back
// with its files and its first parent, as /rollback needs.
func Conformance(t *testing.T, newSubject func(t *testing.T) Subject) {
	ctx := context.Background()

	reads := func(t *testing.T, s Subject, r forge.Reader) {
		b, err := r.ReadFile(ctx, s.Repo, s.Repo.DefaultBranch, "clusters/staging/podinfo.yaml")
		if err != nil || string(b) != "replicas: 1\n" {
			t.Errorf("ReadFile = %q, %v", b, err)
		}
		if _, err := r.ReadFile(ctx, s.Repo, s.Repo.DefaultBranch, "clusters/nope.yaml"); !errors.Is(err, forge.ErrNotFound) {
			t.Errorf("a missing file: %v, want ErrNotFound", err)
		}
		got, err := r.ListFiles(ctx, s.Repo, s.Repo.DefaultBranch, "clusters")
		sort.Strings(got)
		if err != nil || strings.Join(got, ",") != "clusters/production/podinfo.yml,clusters/staging/podinfo.yaml" {
			t.Errorf("ListFiles = %v, %v", got, err)
		}
		if got, err := r.ListFiles(ctx, s.Repo, s.Repo.DefaultBranch, "nope"); err != nil || len(got) != 0 {
			t.Errorf("ListFiles of a missing directory = %v, %v", got, err)
		}
	}
	t.Run("read", func(t *testing.T) {
		s := newSubject(t)
		reads(t, s, s.Forge)
		// The reads along paths a host falls back to read the same.
		if pr, ok := s.Forge.(forge.PathReading); ok {
			reads(t, s, pr.PathReader())
		}
	})

	t.Run("propose is idempotent per branch", func(t *testing.T) {
		s := newSubject(t)
		base := s.Head(s.Repo.DefaultBranch)
		change := func(replicas string) forge.Change {
			return forge.Change{Branch: "gitops-bot/scale-podinfo-staging", Base: s.Repo.DefaultBranch, Title: "Scale podinfo",
				Body: "body", Message: "Scale podinfo", Files: []forge.File{
					{Path: "clusters/staging/podinfo.yaml", Content: []byte("replicas: " + replicas + "\n")},
					{Path: "clusters/production/podinfo.yml", Delete: true},
				}}
		}
		first, err := s.Forge.Propose(ctx, s.Repo, change("3"))
		if err != nil || !first.Created || first.Head == "" {
			t.Fatalf("first proposal: %+v, %v", first, err)
		}
		second, err := s.Forge.Propose(ctx, s.Repo, change("4"))
		if err != nil || second.Created || second.Number != first.Number || second.Branch != first.Branch {
			t.Fatalf("second proposal: %+v, %v (first %+v)", second, err, first)
		}
		if head := s.Head(second.Branch); head != second.Head || head == first.Head {
			t.Errorf("branch head %s, want the second proposal's commit %s", head, second.Head)
		}
		// One commit on the base, whatever came before on the branch.
		parent, err := s.Forge.FirstParent(ctx, s.Repo, second.Head)
		if err != nil || parent != base {
			t.Errorf("the proposal's parent is %s, %v; want the base %s", parent, err, base)
		}
		b, err := s.Forge.ReadFile(ctx, s.Repo, second.Head, "clusters/staging/podinfo.yaml")
		if err != nil || string(b) != "replicas: 4\n" {
			t.Errorf("proposed file = %q, %v", b, err)
		}
		if _, err := s.Forge.ReadFile(ctx, s.Repo, second.Head, "clusters/production/podinfo.yml"); !errors.Is(err, forge.ErrNotFound) {
			t.Errorf("a deleted file is still there: %v", err)
		}
		if s.Head(s.Repo.DefaultBranch) != base {
			t.Error("the base branch moved")
		}
		if s.Merge == nil {
			return
		}
		merge := s.Merge(second)
		pr, err := s.Forge.Pull(ctx, s.Repo, second.Number)
		if err != nil || !pr.Merged || pr.MergeSHA != merge {
			t.Fatalf("Pull = %+v, %v; want merged as %s", pr, err, merge)
		}
		files, err := s.Forge.PullFiles(ctx, s.Repo, second.Number)
		sort.Strings(files)
		if err != nil || strings.Join(files, ",") != "clusters/production/podinfo.yml,clusters/staging/podinfo.yaml" {
			t.Errorf("PullFiles = %v, %v", files, err)
		}
		// What /rollback reads: the merge's first parent, and the files there.
		parent, err = s.Forge.FirstParent(ctx, s.Repo, merge)
		if err != nil || parent != base {
			t.Errorf("the merge's first parent is %s, %v; want %s", parent, err, base)
		}
		if b, err := s.Forge.ReadFile(ctx, s.Repo, parent, "clusters/staging/podinfo.yaml"); err != nil || string(b) != "replicas: 1\n" {
			t.Errorf("file before the merge = %q, %v", b, err)
		}
		merged, err := s.Forge.MergedPulls(ctx, s.Repo, 10)
		if err != nil || len(merged) != 1 || merged[0].Number != second.Number || merged[0].Body != "body" {
			t.Errorf("MergedPulls = %+v, %v", merged, err)
		}
		if _, err := s.Forge.Pull(ctx, s.Repo, 999); !errors.Is(err, forge.ErrNotFound) {
			t.Errorf("a missing pull request: %v, want ErrNotFound", err)
		}
	})

	t.Run("replies are upserted by key", func(t *testing.T) {
		s := newSubject(t)
		if s.Replies == nil {
			t.Skip("this host keeps no replies")
		}
		for _, m := range []forge.Reply{
			{Thread: 1, Key: "comment-1", Body: "working on it", New: true},
			{Thread: 1, Key: "comment-1", Body: "done"},
			{Thread: 1, Key: "comment-2", Body: "other"},
			{Thread: 2, Key: "comment-1", Body: "elsewhere"},
		} {
			if err := s.Forge.Reply(ctx, s.Repo, m); err != nil {
				t.Fatal(err)
			}
		}
		got := s.Replies(1)
		if len(got) != 2 || !strings.Contains(got[0], "done") || !strings.Contains(got[1], "other") {
			t.Errorf("replies on thread 1: %q", got)
		}
		if got := s.Replies(2); len(got) != 1 || !strings.Contains(got[0], "elsewhere") {
			t.Errorf("replies on thread 2: %q", got)
		}
	})

	t.Run("a reaction knows it was there", func(t *testing.T) {
		s := newSubject(t)
		ref := forge.CommentRef{Thread: 1, ID: s.Comment(1)}
		first, err := s.Forge.React(ctx, s.Repo, ref, "eyes")
		if err != nil || !first {
			t.Fatalf("first reaction: %v, %v", first, err)
		}
		again, err := s.Forge.React(ctx, s.Repo, ref, "eyes")
		if err != nil || again {
			t.Errorf("second reaction: first = %v, %v; want false", again, err)
		}
	})
}
