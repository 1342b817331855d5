// Package forgetest is a recording, in-memory forge for tests of bot/: it
// serves files and permissions from fields and records what the bot asked for.
package forgetest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/gitops-bot/gitops-bot/forge"
)

// Fake implements forge.Forge. Set the exported fields before use; read the
// records after. Error fields make the matching call fail.
type Fake struct {
	Files       map[string]string // path -> content, at any ref
	Permissions map[string]forge.Permission
	Teams       map[string][]string // "org/team" -> members

	Pulls        map[int]forge.PullInfo // pull requests by number
	ChangedFiles map[int][]string       // their files
	// Revisions hold the files at commits other than the current ones;
	// Parents the first parent of commits.
	Revisions map[string]map[string]string
	Parents   map[string]string
	// Others are other repositories the host can reach, by URL.
	Others map[string]OtherRepo

	ReadErr, PermissionErr, ProposeErr, ReplyErr, ReactErr error

	mu        sync.Mutex
	proposals []forge.Change
	prs       map[string]*forge.PullRequest // by branch
	replies   []forge.Reply                 // as they stand, upserted by thread and key
	posts     int                           // replies posted (not edits)
	reactions map[forge.CommentRef][]string
	next      int
}

// New returns a fake with the given files.
func New(files map[string]string) *Fake {
	return &Fake{Files: files, Permissions: map[string]forge.Permission{}}
}

func (f *Fake) ReadFile(_ context.Context, _ forge.Repo, ref, path string) ([]byte, error) {
	if f.ReadErr != nil {
		return nil, f.ReadErr
	}
	files := f.Files
	if rev, ok := f.Revisions[ref]; ok {
		files = rev
	}
	c, ok := files[path]
	if !ok {
		return nil, fmt.Errorf("%s: %w", path, forge.ErrNotFound)
	}
	return []byte(c), nil
}

func (f *Fake) ListFiles(_ context.Context, _ forge.Repo, _, dir string) ([]string, error) {
	if f.ReadErr != nil {
		return nil, f.ReadErr
	}
	var out []string
	for p := range f.Files {
		if dir == "" || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/") {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (f *Fake) Permission(_ context.Context, _ forge.Repo, user string) (forge.Permission, error) {
	if f.PermissionErr != nil {
		return forge.PermNone, f.PermissionErr
	}
	return f.Permissions[user], nil
}

func (f *Fake) TeamMember(_ context.Context, _ forge.Repo, team, user string) (bool, error) {
	for _, m := range f.Teams[team] {
		if m == user {
			return true, nil
		}
	}
	return false, nil
}

func (f *Fake) Propose(_ context.Context, _ forge.Repo, c forge.Change) (*forge.PullRequest, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if f.ProposeErr != nil {
		return nil, f.ProposeErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.proposals = append(f.proposals, c)
	if f.prs == nil {
		f.prs = map[string]*forge.PullRequest{}
	}
	f.next++
	sha := fmt.Sprintf("%040x", f.next)
	if pr, ok := f.prs[c.Branch]; ok {
		pr.Head, pr.Created = sha, false
		cp := *pr
		return &cp, nil
	}
	pr := &forge.PullRequest{Number: 100 + len(f.prs), Branch: c.Branch, Head: sha, Created: true,
		URL: fmt.Sprintf("https://forge.test/pull/%d", 100+len(f.prs))}
	f.prs[c.Branch] = pr
	cp := *pr
	return &cp, nil
}

func (f *Fake) Reply(_ context.Context, _ forge.Repo, m forge.Reply) error {
	if f.ReplyErr != nil {
		return f.ReplyErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range f.replies {
		if m.Key != "" && r.Thread == m.Thread && r.Key == m.Key {
			f.replies[i] = m
			return nil
		}
	}
	f.replies = append(f.replies, m)
	f.posts++
	return nil
}

func (f *Fake) React(_ context.Context, _ forge.Repo, c forge.CommentRef, reaction string) (bool, error) {
	if f.ReactErr != nil {
		return false, f.ReactErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reactions == nil {
		f.reactions = map[forge.CommentRef][]string{}
	}
	for _, r := range f.reactions[c] {
		if r == reaction {
			return false, nil
		}
	}
	f.reactions[c] = append(f.reactions[c], reaction)
	return true, nil
}

func (f *Fake) Pull(_ context.Context, _ forge.Repo, number int) (forge.PullInfo, error) {
	p, ok := f.Pulls[number]
	if !ok {
		return forge.PullInfo{}, fmt.Errorf("pull request #%d: %w", number, forge.ErrNotFound)
	}
	return p, nil
}

func (f *Fake) PullFiles(_ context.Context, _ forge.Repo, number int) ([]string, error) {
	return f.ChangedFiles[number], nil
}

func (f *Fake) MergedPulls(_ context.Context, _ forge.Repo, n int) ([]forge.PullInfo, error) {
	var out []forge.PullInfo
	for _, p := range f.Pulls {
		if p.Merged {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number > out[j].Number })
	if len(out) > n {
		out = out[:n]
	}
	return out, nil
}

func (f *Fake) FirstParent(_ context.Context, _ forge.Repo, sha string) (string, error) {
	p, ok := f.Parents[sha]
	if !ok {
		return "", fmt.Errorf("commit %s: %w", sha, forge.ErrNotFound)
	}
	return p, nil
}

// OtherRepo is another repository of the fake host.
type OtherRepo struct {
	Fake *Fake
	Repo forge.Repo
}

// OpenRepo implements forge.Opener from Others.
func (f *Fake) OpenRepo(_ context.Context, url string) (forge.Forge, forge.Repo, error) {
	o, ok := f.Others[url]
	if !ok {
		return nil, forge.Repo{}, fmt.Errorf("%s: %w", url, forge.ErrNotFound)
	}
	return o.Fake, o.Repo, nil
}

// Proposals returns every change proposed, in order.
func (f *Fake) Proposals() []forge.Change {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]forge.Change(nil), f.proposals...)
}

// PullRequests returns the open pull requests, one per branch.
func (f *Fake) PullRequests() map[string]forge.PullRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]forge.PullRequest{}
	for b, pr := range f.prs {
		out[b] = *pr
	}
	return out
}

// Replies returns the replies as they stand after upserts.
func (f *Fake) Replies() []forge.Reply {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]forge.Reply(nil), f.replies...)
}

// Posts counts replies posted as new comments.
func (f *Fake) Posts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.posts
}

// Reactions returns the reactions on a comment.
func (f *Fake) Reactions(c forge.CommentRef) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reactions[c]...)
}

// Snapshot copies the current files, to be a revision later.
func (f *Fake) Snapshot() map[string]string {
	out := make(map[string]string, len(f.Files))
	for k, v := range f.Files {
		out[k] = v
	}
	return out
}

// MergedAs records pull request number as merged: its merge commit holds
// the current files and its first parent the files before; it changed the
// files named. It returns the merge commit.
func (f *Fake) MergedAs(number int, before map[string]string, body string, changed ...string) string {
	merge, parent := fmt.Sprintf("%040d", 2*number), fmt.Sprintf("%040d", 2*number+1)
	if f.Revisions == nil {
		f.Revisions, f.Parents = map[string]map[string]string{}, map[string]string{}
	}
	if f.Pulls == nil {
		f.Pulls, f.ChangedFiles = map[int]forge.PullInfo{}, map[int][]string{}
	}
	f.Revisions[merge], f.Revisions[parent] = f.Snapshot(), before
	f.Parents[merge] = parent
	f.Pulls[number] = forge.PullInfo{Number: number, Merged: true, MergeSHA: merge, Base: "main", Body: body}
	f.ChangedFiles[number] = changed
	return merge
}
