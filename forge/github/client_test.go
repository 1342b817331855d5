package github_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	gh "github.com/google/go-github/v66/github"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/forge/github"
	"github.com/gitops-bot/gitops-bot/forge/github/githubtest"
)

var repo = forge.Repo{Host: "github", Owner: "acme", Name: "fleet", DefaultBranch: "main"}

func newClient(t testing.TB, files map[string]string) (*github.Client, *githubtest.Server) {
	t.Helper()
	s := githubtest.New(t, "acme", "fleet", files)
	return clientFor(t, s), s
}

func clientFor(t testing.TB, s *githubtest.Server) *github.Client {
	t.Helper()
	c, err := gh.NewClient(nil).WithAuthToken("test").WithEnterpriseURLs(s.APIURL(), s.APIURL())
	if err != nil {
		t.Fatal(err)
	}
	return github.NewClient(c)
}

func commentEventFor(t testing.TB, s *githubtest.Server, body string) forge.CommentEvent {
	t.Helper()
	id := s.AddComment(1, "Codertocat", body)
	s.Reset()
	return forge.CommentEvent{Repo: forge.Repo{Host: "github", Owner: s.Owner, Name: s.Repo, DefaultBranch: "master"},
		Thread: 1, CommentID: id, Body: body, Author: "Codertocat"}
}

func change(n int) forge.Change {
	c := forge.Change{Branch: "gitops-bot/deploy-x-staging", Base: "main", Title: "Deploy x", Body: "body", Message: "Deploy x"}
	for i := 0; i < n; i++ {
		c.Files = append(c.Files, forge.File{Path: fmt.Sprintf("clusters/staging/x-%02d.yaml", i), Content: []byte(fmt.Sprintf("n: %d\n", i))})
	}
	return c
}

func keys(rs []githubtest.Request) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Key()
	}
	return out
}

func TestProposeOpensPullRequestInOneCommit(t *testing.T) {
	c, s := newClient(t, map[string]string{"README.md": "hi\n", "clusters/staging/old.yaml": "old\n"})
	ch := change(3)
	ch.Files = append(ch.Files, forge.File{Path: "clusters/staging/old.yaml", Delete: true})
	ch.Labels = []string{"gitops"}
	pr, err := c.Propose(context.Background(), repo, ch)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"GET /repos/acme/fleet/branches/main",
		"POST /repos/acme/fleet/git/trees",
		"POST /repos/acme/fleet/git/commits",
		"POST /repos/acme/fleet/git/refs",
		"POST /repos/acme/fleet/pulls",
		"POST /repos/acme/fleet/issues/1/labels",
	}
	if got := keys(s.Requests()); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The tree request carries every file inline, on the base tree.
	var tree struct {
		BaseTree string `json:"base_tree"`
		Tree     []struct {
			Path    string  `json:"path"`
			Content *string `json:"content"`
			SHA     *string `json:"sha"`
		} `json:"tree"`
	}
	if err := json.Unmarshal(s.Requests()[1].Body, &tree); err != nil {
		t.Fatal(err)
	}
	if tree.BaseTree == "" || len(tree.Tree) != 4 || *tree.Tree[0].Content != "n: 0\n" || tree.Tree[3].Content != nil || tree.Tree[3].SHA != nil {
		t.Errorf("tree request = %s", s.Requests()[1].Body)
	}
	if !strings.Contains(string(s.Requests()[1].Body), `"sha":null`) {
		t.Errorf("a deletion must send sha: null: %s", s.Requests()[1].Body)
	}
	if !pr.Created || pr.Number != 1 || pr.URL != "https://github.com/acme/fleet/pull/1" {
		t.Errorf("pr = %+v", pr)
	}
	parents, msg := s.Commit(ch.Branch)
	if len(parents) != 1 || parents[0] != s.Head("main") || msg != "Deploy x" {
		t.Errorf("commit parents %v message %q", parents, msg)
	}
	if v, _ := s.File(ch.Branch, "clusters/staging/x-02.yaml"); v != "n: 2\n" {
		t.Errorf("file on branch = %q", v)
	}
	if _, ok := s.File(ch.Branch, "clusters/staging/old.yaml"); ok {
		t.Error("deleted file still on the branch")
	}
	if _, ok := s.File("main", "clusters/staging/x-00.yaml"); ok {
		t.Error("main was written to")
	}
	if p := s.Pulls(); len(p) != 1 || p[0].Head != ch.Branch || p[0].Base != "main" || strings.Join(p[0].Labels, ",") != "gitops" {
		t.Errorf("pulls = %+v", p)
	}
}

func TestProposeAgainUpdatesBranchAndPullRequest(t *testing.T) {
	c, s := newClient(t, nil)
	ctx := context.Background()
	if _, err := c.Propose(ctx, repo, change(2)); err != nil {
		t.Fatal(err)
	}
	first := s.Head("gitops-bot/deploy-x-staging")
	s.Reset()

	ch := change(2)
	ch.Files[0].Content = []byte("n: changed\n")
	pr, err := c.Propose(ctx, repo, ch)
	if err != nil {
		t.Fatal(err)
	}
	// The same client (one event) read main's head already.
	want := "POST /repos/acme/fleet/git/trees,POST /repos/acme/fleet/git/commits," +
		"POST /repos/acme/fleet/git/refs,PATCH /repos/acme/fleet/git/refs/heads/gitops-bot/deploy-x-staging,GET /repos/acme/fleet/pulls"
	if got := strings.Join(keys(s.Requests()), ","); got != want {
		t.Errorf("requests %s\nwant      %s", got, want)
	}
	if pr.Created || pr.Number != 1 || len(s.Pulls()) != 1 {
		t.Errorf("pr = %+v, pulls %d", pr, len(s.Pulls()))
	}
	parents, _ := s.Commit(ch.Branch)
	if s.Head(ch.Branch) == first || parents[0] != s.Head("main") {
		t.Errorf("branch not moved to a new single commit on main")
	}

	// A changed title edits the pull request.
	s.Reset()
	ch.Title = "Deploy x again"
	if _, err := c.Propose(ctx, repo, ch); err != nil {
		t.Fatal(err)
	}
	if s.Count("PATCH /repos/acme/fleet/pulls/1") != 1 || s.Pulls()[0].Title != "Deploy x again" {
		t.Errorf("title not updated: %v", keys(s.Requests()))
	}
}

func TestProposeReusesBranchOfClosedPullRequest(t *testing.T) {
	c, s := newClient(t, nil)
	ctx := context.Background()
	if _, err := c.Propose(ctx, repo, change(1)); err != nil {
		t.Fatal(err)
	}
	s.ClosePull(1)
	pr, err := c.Propose(ctx, repo, change(1))
	if err != nil {
		t.Fatal(err)
	}
	if !pr.Created || pr.Number != 2 || s.Count("PATCH /repos/acme/fleet/git/refs/heads/gitops-bot/deploy-x-staging") != 1 {
		t.Errorf("pr = %+v, requests %v", pr, keys(s.Requests()))
	}
}

func TestProposeSameCallCountFor2And20Files(t *testing.T) {
	counts := map[int]int{}
	for _, n := range []int{2, 20} {
		c, s := newClient(t, nil)
		if _, err := c.Propose(context.Background(), repo, change(n)); err != nil {
			t.Fatal(err)
		}
		counts[n] = len(s.Requests())
	}
	if counts[2] != counts[20] {
		t.Errorf("calls: %v", counts)
	}
}

func TestProposeNoChangeAndFailures(t *testing.T) {
	c, s := newClient(t, map[string]string{"clusters/staging/x-00.yaml": "n: 0\n"})
	ctx := context.Background()
	if _, err := c.Propose(ctx, repo, change(1)); !errors.Is(err, forge.ErrNoChange) {
		t.Errorf("identical files: err = %v, want ErrNoChange", err)
	}
	if _, err := c.Propose(ctx, repo, forge.Change{Branch: "x", Base: "main", Files: []forge.File{{Path: ".github/workflows/a.yml"}}}); err == nil {
		t.Error("a change under .github was accepted")
	}
	s.FailNext("POST /repos/acme/fleet/git/commits", 500)
	if _, err := c.Propose(ctx, repo, change(2)); err == nil || !strings.Contains(err.Error(), "creating commit") {
		t.Errorf("err = %v", err)
	}
	if s.Head("gitops-bot/deploy-x-staging") != "" {
		t.Error("a failed proposal left a branch")
	}
}

func TestReadersAndPermissions(t *testing.T) {
	c, s := newClient(t, map[string]string{".gitops-bot.yaml": "provider: flux\n", "clusters/a/x.yaml": "x", "clusters/b/y.yaml": "y"})
	ctx := context.Background()
	b, err := c.ReadFile(ctx, repo, "main", ".gitops-bot.yaml")
	if err != nil || string(b) != "provider: flux\n" {
		t.Errorf("ReadFile = %q, %v", b, err)
	}
	if _, err := c.ReadFile(ctx, repo, "main", "nope.yaml"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("missing file: %v", err)
	}
	files, err := c.ListFiles(ctx, repo, "main", "clusters/a")
	if err != nil || strings.Join(files, ",") != "clusters/a/x.yaml" {
		t.Errorf("ListFiles = %v, %v", files, err)
	}
	for user, want := range map[string]forge.Permission{"admin": forge.PermAdmin, "maintain": forge.PermMaintain, "write": forge.PermWrite, "triage": forge.PermTriage, "read": forge.PermRead} {
		s.SetPermission("u-"+user, user)
		if got, err := c.Permission(ctx, repo, "u-"+user); err != nil || got != want {
			t.Errorf("Permission(%s) = %v, %v; want %v", user, got, err, want)
		}
	}
	if got, err := c.Permission(ctx, repo, "stranger"); err != nil || got != forge.PermNone {
		t.Errorf("stranger: %v, %v", got, err)
	}
	s.SetTeam("acme/platform", "carol")
	if in, err := c.TeamMember(ctx, repo, "acme/platform", "carol"); !in || err != nil {
		t.Errorf("carol: %v %v", in, err)
	}
	if in, err := c.TeamMember(ctx, repo, "acme/platform", "dave"); in || err != nil {
		t.Errorf("dave: %v %v", in, err)
	}
}

func TestReplyUpsertsByKeyAndReactReportsFirst(t *testing.T) {
	c, s := newClient(t, nil)
	ctx := context.Background()
	id := s.AddComment(7, "alice", "/deploy x")
	first, err := c.React(ctx, repo, forge.CommentRef{Thread: 7, ID: id}, "eyes")
	if err != nil || !first {
		t.Fatalf("first reaction: %v %v", first, err)
	}
	if again, _ := c.React(ctx, repo, forge.CommentRef{Thread: 7, ID: id}, "eyes"); again {
		t.Error("second reaction reported as first")
	}
	if !s.Reacted(id, "eyes") {
		t.Error("no reaction recorded")
	}

	s.Reset()
	if err := c.Reply(ctx, repo, forge.Reply{Thread: 7, Key: "k", Body: "one", New: true}); err != nil {
		t.Fatal(err)
	}
	if got := keys(s.Requests()); len(got) != 1 || got[0] != "POST /repos/acme/fleet/issues/7/comments" {
		t.Errorf("a new reply should take one call: %v", got)
	}
	if err := c.Reply(ctx, repo, forge.Reply{Thread: 7, Key: "k", Body: "two"}); err != nil {
		t.Fatal(err)
	}
	cs := s.Comments(7)
	if len(cs) != 2 || !strings.HasPrefix(cs[1].Body, "two") || !strings.Contains(cs[1].Body, "<!-- gitops-bot:reply:k -->") {
		t.Errorf("comments = %+v", cs)
	}
}

func TestOpenRepoThroughTheAppsInstallation(t *testing.T) {
	s := githubtest.New(t, "acme", "apps", map[string]string{"README.md": "apps\n"})
	c := github.NewClientWith(clientCreator(t, s.APIURL()))
	f, r, err := c.OpenRepo(context.Background(), "git@github.com:acme/apps.git")
	if err != nil {
		t.Fatal(err)
	}
	if r.FullName() != "acme/apps" || r.DefaultBranch != "main" || r.Installation != 1 || r.CloneURL != "https://github.com/acme/apps.git" {
		t.Errorf("repo %+v", r)
	}
	if b, err := f.ReadFile(context.Background(), r, "main", "README.md"); err != nil || string(b) != "apps\n" {
		t.Errorf("read through the other installation: %q %v", b, err)
	}
	if _, _, err := c.OpenRepo(context.Background(), "https://github.com/acme/elsewhere"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("a repository the fake does not serve: %v", err)
	}
}

// A repository too large for one tree listing still reads: files through
// the contents API, directories level by level.
func TestTruncatedTreeListingDoesNotBreakReads(t *testing.T) {
	files := map[string]string{"README.md": "x\n", "clusters/staging/a.yaml": "a: 1\n", "clusters/staging/b/c.yaml": "c: 1\n", "apps/x.yaml": "x: 1\n"}
	c, s := newClient(t, files)
	s.TruncateTrees = 2
	ctx := context.Background()
	if b, err := c.ReadFile(ctx, repo, "main", "clusters/staging/a.yaml"); err != nil || string(b) != "a: 1\n" {
		t.Errorf("ReadFile = %q, %v", b, err)
	}
	if _, err := c.ReadFile(ctx, repo, "main", "nope.yaml"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("a missing file: %v", err)
	}
	got, err := c.ListFiles(ctx, repo, "main", "clusters")
	if err != nil || strings.Join(got, ",") != "clusters/staging/a.yaml,clusters/staging/b/c.yaml" {
		t.Errorf("ListFiles(clusters) = %v, %v", got, err)
	}
	all, err := c.ListFiles(ctx, repo, "main", "")
	if err != nil || len(all) != len(files) {
		t.Errorf("ListFiles() = %v, %v", all, err)
	}
}

// The path reader, for when a mirror cannot be fetched, never lists the
// whole tree.
func TestPathReaderReadsAlongPaths(t *testing.T) {
	files := map[string]string{"README.md": "x\n", "clusters/staging/a.yaml": "a: 1\n", "apps/x/y.yaml": "y: 1\n"}
	c, s := newClient(t, files)
	ctx := context.Background()
	pr := c.PathReader()
	got, err := pr.ListFiles(ctx, repo, "main", "clusters/staging")
	if err != nil || strings.Join(got, ",") != "clusters/staging/a.yaml" {
		t.Errorf("ListFiles = %v, %v", got, err)
	}
	if got, err := pr.ListFiles(ctx, repo, "main", "nope/here"); err != nil || len(got) != 0 {
		t.Errorf("a missing directory: %v, %v", got, err)
	}
	if b, err := pr.ReadFile(ctx, repo, "main", "apps/x/y.yaml"); err != nil || string(b) != "y: 1\n" {
		t.Errorf("ReadFile = %q, %v", b, err)
	}
	head := s.Head("main")
	root, _ := s.Git().Commit(head)
	for _, r := range s.Requests() {
		if strings.HasSuffix(r.Path, "/git/trees/"+root.Tree) && strings.Contains(r.Query, "recursive") {
			t.Errorf("the whole tree was listed: %s?%s", r.Path, r.Query)
		}
	}
}

// A reply GitHub posted before answering 502 is found by its key, not
// posted again; one it did not post is posted.
func TestReplyAfterAServerErrorIsNotDoubled(t *testing.T) {
	for name, done := range map[string]bool{"posted, then 502": true, "502 before posting": false} {
		t.Run(name, func(t *testing.T) {
			c, s := newClient(t, nil)
			s.Faults.FailNext("POST /repos/acme/fleet/issues/7/comments", forgetest.Fault{Status: 502, Done: done})
			if err := c.Reply(context.Background(), repo, forge.Reply{Thread: 7, Key: "k", Body: "Opened #12", New: true}); err != nil {
				t.Fatal(err)
			}
			if cs := s.Comments(7); len(cs) != 1 || !strings.HasPrefix(cs[0].Body, "Opened #12") {
				t.Errorf("comments = %+v", cs)
			}
		})
	}
}

// GitHub opening the pull request and still answering 502: the bot finds
// it instead of failing, keeps its branch, and opens no second one.
func TestPullRequestOpenedDespiteA502(t *testing.T) {
	c, s := newClient(t, nil)
	s.Faults.FailNext("POST /repos/acme/fleet/pulls", forgetest.Fault{Status: 502, Done: true})
	pr, err := c.Propose(context.Background(), repo, forge.Change{Base: "main", Branch: "gitops-bot/deploy-web-staging", Title: "Deploy web", Body: "b",
		Message: "Deploy web", Files: []forge.File{{Path: "clusters/staging/web.yaml", Content: []byte("a: 1\n")}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Pulls()) != 1 || pr.Number != s.Pulls()[0].Number {
		t.Errorf("%d pull requests, got #%d", len(s.Pulls()), pr.Number)
	}
	if _, ok := s.Git().Branch("gitops-bot/deploy-web-staging"); !ok {
		t.Error("the pull request's branch was removed")
	}
}
