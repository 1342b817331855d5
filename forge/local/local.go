// Package local is a forge on a git repository on disk, for `gitops-bot local`:
// the same command handling as on GitHub, with the "pull request" being a
// branch with one commit, written without touching the checked-out branch.
package local

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/gitops-bot/gitops-bot/forge"
)

// Signature is the author of the bot's commits.
var Signature = object.Signature{Name: "gitops-bot", Email: "gitops-bot@localhost"}

// Forge works on one repository. Everyone has admin access: it is your disk.
type Forge struct {
	repo *git.Repository
	now  func() time.Time

	mu        sync.Mutex
	replies   []forge.Reply
	proposals []Proposal
	reactions map[forge.CommentRef]map[string]bool
}

// Proposal is a change the bot made, with the pull request it stands for.
type Proposal struct {
	Change forge.Change
	PR     forge.PullRequest
}

// Open opens the repository at dir.
func Open(dir string) (*Forge, error) {
	r, err := git.PlainOpen(dir)
	if err != nil {
		return nil, fmt.Errorf("opening git repository %s: %w", dir, err)
	}
	return &Forge{repo: r, now: time.Now}, nil
}

// Repo describes the repository: its checked-out branch is the default branch.
func (f *Forge) Repo(name string) (forge.Repo, error) {
	head, err := f.repo.Head()
	if err != nil {
		return forge.Repo{}, fmt.Errorf("reading HEAD: %w", err)
	}
	if !head.Name().IsBranch() {
		return forge.Repo{}, fmt.Errorf("HEAD is detached; check out the branch the bot should target")
	}
	r := forge.Repo{Host: "local", Owner: "local", Name: name, DefaultBranch: head.Name().Short()}
	if remote, err := f.repo.Remote("origin"); err == nil && len(remote.Config().URLs) > 0 {
		r.CloneURL = remote.Config().URLs[0]
	}
	return r, nil
}

func (f *Forge) commit(ref string) (*object.Commit, error) {
	h, err := f.repo.ResolveRevision(plumbing.Revision(ref))
	if err != nil {
		return nil, fmt.Errorf("ref %s: %w", ref, forge.ErrNotFound)
	}
	return f.repo.CommitObject(*h)
}

func (f *Forge) ReadFile(_ context.Context, _ forge.Repo, ref, p string) ([]byte, error) {
	c, err := f.commit(ref)
	if err != nil {
		return nil, err
	}
	file, err := c.File(p)
	if errors.Is(err, object.ErrFileNotFound) {
		return nil, fmt.Errorf("%s at %s: %w", p, ref, forge.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	s, err := file.Contents()
	return []byte(s), err
}

func (f *Forge) ListFiles(_ context.Context, _ forge.Repo, ref, dir string) ([]string, error) {
	c, err := f.commit(ref)
	if err != nil {
		return nil, err
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, err
	}
	if dir != "" {
		if tree, err = tree.Tree(dir); err != nil {
			return nil, nil // no such directory: nothing in it
		}
	}
	var out []string
	err = tree.Files().ForEach(func(fl *object.File) error {
		out = append(out, path.Join(dir, fl.Name))
		return nil
	})
	return out, err
}

func (f *Forge) Permission(context.Context, forge.Repo, string) (forge.Permission, error) {
	return forge.PermAdmin, nil
}

func (f *Forge) TeamMember(context.Context, forge.Repo, string, string) (bool, error) {
	return false, nil
}

// React remembers reactions for as long as the process runs.
func (f *Forge) React(_ context.Context, _ forge.Repo, c forge.CommentRef, reaction string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reactions == nil {
		f.reactions = map[forge.CommentRef]map[string]bool{}
	}
	if f.reactions[c][reaction] {
		return false, nil
	}
	if f.reactions[c] == nil {
		f.reactions[c] = map[string]bool{}
	}
	f.reactions[c][reaction] = true
	return true, nil
}

// Reply keeps replies in memory, upserted by thread and key as the hosts do.
func (f *Forge) Reply(_ context.Context, _ forge.Repo, m forge.Reply) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range f.replies {
		if m.Key != "" && r.Thread == m.Thread && r.Key == m.Key {
			f.replies[i] = m
			return nil
		}
	}
	f.replies = append(f.replies, m)
	return nil
}

// Propose writes one commit with the change on top of the base branch and
// points the branch at it (creating or moving it). The work tree and the
// checked-out branch are not touched.
func (f *Forge) Propose(_ context.Context, _ forge.Repo, c forge.Change) (*forge.PullRequest, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	base, err := f.commit(c.Base)
	if err != nil {
		return nil, err
	}
	head, err := f.repo.Head()
	if err == nil && head.Name() == plumbing.NewBranchReferenceName(c.Branch) {
		return nil, fmt.Errorf("branch %s is checked out; the bot never writes to the checked-out branch", c.Branch)
	}
	baseTree, err := base.Tree()
	if err != nil {
		return nil, err
	}
	changes := map[string]*forge.File{}
	for i := range c.Files {
		changes[c.Files[i].Path] = &c.Files[i]
	}
	treeHash, err := writeTree(f.repo.Storer, baseTree, changes)
	if err != nil {
		return nil, err
	}
	if treeHash == baseTree.Hash {
		return nil, fmt.Errorf("%s: %w", c.Base, forge.ErrNoChange)
	}
	sig := Signature
	sig.When = f.now()
	commit := &object.Commit{Author: sig, Committer: sig, Message: c.Message, TreeHash: treeHash, ParentHashes: []plumbing.Hash{base.Hash}}
	obj := f.repo.Storer.NewEncodedObject()
	if err := commit.Encode(obj); err != nil {
		return nil, err
	}
	commitHash, err := f.repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return nil, err
	}
	refName := plumbing.NewBranchReferenceName(c.Branch)
	_, err = f.repo.Reference(refName, false)
	created := errors.Is(err, plumbing.ErrReferenceNotFound)
	if err := f.repo.Storer.SetReference(plumbing.NewHashReference(refName, commitHash)); err != nil {
		return nil, err
	}
	newCommit, err := f.repo.CommitObject(commitHash)
	if err != nil {
		return nil, err
	}
	patch, err := base.Patch(newCommit)
	if err != nil {
		return nil, err
	}
	pr := forge.PullRequest{Branch: c.Branch, Head: commitHash.String(), Created: created, Diff: patch.String()}
	f.mu.Lock()
	f.proposals = append(f.proposals, Proposal{Change: c, PR: pr})
	f.mu.Unlock()
	return &pr, nil
}

// Pull: a local repository has no pull requests.
func (f *Forge) Pull(_ context.Context, _ forge.Repo, number int) (forge.PullInfo, error) {
	return forge.PullInfo{}, fmt.Errorf("pull request #%d: a local repository has none: %w", number, forge.ErrNotFound)
}

// PullFiles: see Pull.
func (f *Forge) PullFiles(_ context.Context, _ forge.Repo, number int) ([]string, error) {
	return nil, fmt.Errorf("pull request #%d: a local repository has none: %w", number, forge.ErrNotFound)
}

// MergedPulls: a local repository has no pull requests.
func (f *Forge) MergedPulls(context.Context, forge.Repo, int) ([]forge.PullInfo, error) {
	return nil, nil
}

// FirstParent reads a commit's first parent.
func (f *Forge) FirstParent(_ context.Context, _ forge.Repo, sha string) (string, error) {
	c, err := f.commit(sha)
	if err != nil {
		return "", err
	}
	if len(c.ParentHashes) == 0 {
		return "", fmt.Errorf("commit %s has no parent", sha)
	}
	return c.ParentHashes[0].String(), nil
}

// Replies returns what the bot said.
func (f *Forge) Replies() []forge.Reply {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]forge.Reply(nil), f.replies...)
}

// Proposals returns the changes the bot made.
func (f *Forge) Proposals() []Proposal {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Proposal(nil), f.proposals...)
}

// writeTree stores a copy of base (nil for none) with changes applied, keyed
// by path relative to base, and returns its hash.
func writeTree(s storer.EncodedObjectStorer, base *object.Tree, changes map[string]*forge.File) (plumbing.Hash, error) {
	entries := map[string]object.TreeEntry{}
	if base != nil {
		for _, e := range base.Entries {
			entries[e.Name] = e
		}
	}
	sub := map[string]map[string]*forge.File{}
	for p, file := range changes {
		dir, rest, nested := strings.Cut(p, "/")
		if nested {
			if sub[dir] == nil {
				sub[dir] = map[string]*forge.File{}
			}
			sub[dir][rest] = file
			continue
		}
		if file.Delete {
			delete(entries, p)
			continue
		}
		h, err := writeBlob(s, file.Content)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries[p] = object.TreeEntry{Name: p, Mode: filemode.Regular, Hash: h}
	}
	for dir, ch := range sub {
		var subBase *object.Tree
		if e, ok := entries[dir]; ok {
			if e.Mode != filemode.Dir {
				return plumbing.ZeroHash, fmt.Errorf("%s is a file, not a directory", dir)
			}
			t, err := object.GetTree(s, e.Hash)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			subBase = t
		}
		h, err := writeTree(s, subBase, ch)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if h == emptyTree {
			delete(entries, dir) // git keeps no empty directories
			continue
		}
		entries[dir] = object.TreeEntry{Name: dir, Mode: filemode.Dir, Hash: h}
	}
	t := &object.Tree{}
	for _, e := range entries {
		t.Entries = append(t.Entries, e)
	}
	// Git orders entries by name, with directories compared as "name/".
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(t.Entries, func(i, j int) bool { return key(t.Entries[i]) < key(t.Entries[j]) })
	obj := s.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(obj)
}

// emptyTree is git's well-known hash of a tree with no entries.
var emptyTree = plumbing.NewHash("4b825dc642cb6eb9a060e54bf8d69288fbee4904")

func writeBlob(s storer.EncodedObjectStorer, content []byte) (plumbing.Hash, error) {
	obj := s.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(content); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(obj)
}
