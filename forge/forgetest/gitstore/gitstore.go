// Package gitstore is a git repository made of real git objects (go-git's
// storage, in memory or as a bare repository on disk): the one commit model
// behind the fake GitHub and GitLab servers, so commits, trees and blobs
// have the SHAs git gives them, and a repository on disk is served over
// git's own HTTP protocol (Serve) with the same commits as the REST side.
// Safe for concurrent use.
package gitstore

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/memory"
)

// Repo is the repository: objects and branches.
type Repo struct {
	mu    sync.Mutex
	st    storage.Storer
	dir   string    // the bare repository on disk; "" in memory
	clock time.Time // commit times, one second apart, so SHAs are repeatable
	blobs map[plumbing.Hash]bool
}

// Commit is what the fakes read of a commit.
type Commit struct {
	SHA     string
	Tree    string
	Parents []string
	Message string
}

// New makes a repository in memory whose branch main holds files in one commit.
func New(files map[string]string) *Repo {
	r := &Repo{st: memory.NewStorage()}
	r.init(files)
	return r
}

// NewAt makes the repository as a bare repository in dir, which Serve can
// serve to git clients.
func NewAt(dir string, files map[string]string) (*Repo, error) {
	st := filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault())
	if _, err := git.Init(st, nil); err != nil {
		return nil, err
	}
	// What GitHub and GitLab allow: fetching any reachable commit, and
	// partial clones with a filter.
	f, err := os.OpenFile(filepath.Join(dir, "config"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	_, err = f.WriteString("[uploadpack]\n\tallowFilter = true\n\tallowAnySHA1InWant = true\n[http]\n\treceivepack = false\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	r := &Repo{st: st, dir: dir}
	r.init(files)
	return r, nil
}

func (r *Repo) init(files map[string]string) {
	r.blobs = map[plumbing.Hash]bool{}
	r.clock = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tree := r.WriteTree(files)
	r.SetBranch("main", r.WriteCommit(tree, nil, "initial"))
	r.st.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.NewBranchReferenceName("main")))
}

// Dir is the bare repository on disk ("" in memory).
func (r *Repo) Dir() string { return r.dir }

// Branch returns a branch's head.
func (r *Repo) Branch(name string) (string, bool) {
	ref, err := r.st.Reference(plumbing.NewBranchReferenceName(name))
	if err != nil {
		return "", false
	}
	return ref.Hash().String(), true
}

// SetBranch points a branch at a commit, creating it if needed.
func (r *Repo) SetBranch(name, sha string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.st.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(name), plumbing.NewHash(sha))); err != nil {
		panic(fmt.Sprintf("gitstore: %v", err))
	}
}

// DeleteBranch removes a branch.
func (r *Repo) DeleteBranch(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st.RemoveReference(plumbing.NewBranchReferenceName(name))
}

// Branches lists the branches and their heads.
func (r *Repo) Branches() map[string]string {
	out := map[string]string{}
	refs, err := r.st.IterReferences()
	if err != nil {
		return out
	}
	refs.ForEach(func(ref *plumbing.Reference) error {
		if ref.Name().IsBranch() && ref.Type() == plumbing.HashReference {
			out[ref.Name().Short()] = ref.Hash().String()
		}
		return nil
	})
	return out
}

// Resolve turns a branch name or a commit SHA into a commit SHA.
func (r *Repo) Resolve(ref string) (string, bool) {
	if sha, ok := r.Branch(ref); ok {
		return sha, true
	}
	if _, ok := r.Commit(ref); ok {
		return ref, true
	}
	return "", false
}

// Commit reads a commit.
func (r *Repo) Commit(sha string) (Commit, bool) {
	if !plumbing.IsHash(sha) {
		return Commit{}, false
	}
	c, err := object.GetCommit(r.st, plumbing.NewHash(sha))
	if err != nil {
		return Commit{}, false
	}
	out := Commit{SHA: sha, Tree: c.TreeHash.String(), Message: c.Message}
	for _, p := range c.ParentHashes {
		out.Parents = append(out.Parents, p.String())
	}
	return out, true
}

// Files returns the files of a commit or branch (path -> content).
func (r *Repo) Files(ref string) (map[string]string, bool) {
	sha, ok := r.Resolve(ref)
	if !ok {
		return nil, false
	}
	c, _ := r.Commit(sha)
	return r.TreeFiles(c.Tree)
}

// File returns one file of a commit or branch.
func (r *Repo) File(ref, p string) (string, bool) {
	sha, ok := r.Resolve(ref)
	if !ok {
		return "", false
	}
	c, err := object.GetCommit(r.st, plumbing.NewHash(sha))
	if err != nil {
		return "", false
	}
	t, err := c.Tree()
	if err != nil {
		return "", false
	}
	f, err := t.File(p)
	if err != nil {
		return "", false
	}
	content, err := f.Contents()
	return content, err == nil
}

// Entry is a file of a tree with its blob SHA.
type Entry struct {
	Path, SHA string
	Size      int64
}

// TreeEntries lists the files of a tree, recursively, by path.
func (r *Repo) TreeEntries(treeSHA string) ([]Entry, bool) {
	if !plumbing.IsHash(treeSHA) {
		return nil, false
	}
	t, err := object.GetTree(r.st, plumbing.NewHash(treeSHA))
	if err != nil {
		return nil, false
	}
	var out []Entry
	t.Files().ForEach(func(f *object.File) error {
		out = append(out, Entry{Path: f.Name, SHA: f.Hash.String(), Size: f.Size})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, true
}

// LevelEntry is one entry of a tree, file or subtree.
type LevelEntry struct {
	Path, Mode, Type, SHA string
}

// TreeLevel lists one level of a tree: its files and subtrees.
func (r *Repo) TreeLevel(treeSHA string) ([]LevelEntry, bool) {
	if !plumbing.IsHash(treeSHA) {
		return nil, false
	}
	t, err := object.GetTree(r.st, plumbing.NewHash(treeSHA))
	if err != nil {
		return nil, false
	}
	out := make([]LevelEntry, 0, len(t.Entries))
	for _, e := range t.Entries {
		le := LevelEntry{Path: e.Name, Mode: fmt.Sprintf("%06o", uint32(e.Mode)), Type: "blob", SHA: e.Hash.String()}
		if e.Mode == filemode.Dir {
			le.Type = "tree"
		}
		out = append(out, le)
	}
	return out, true
}

// TreeFiles returns the files of a tree (path -> content).
func (r *Repo) TreeFiles(treeSHA string) (map[string]string, bool) {
	entries, ok := r.TreeEntries(treeSHA)
	if !ok {
		return nil, false
	}
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		b, _ := r.Blob(e.SHA)
		out[e.Path] = string(b)
	}
	return out, true
}

// Blob reads a blob.
func (r *Repo) Blob(sha string) ([]byte, bool) {
	if !plumbing.IsHash(sha) {
		return nil, false
	}
	b, err := object.GetBlob(r.st, plumbing.NewHash(sha))
	if err != nil {
		return nil, false
	}
	rd, err := b.Reader()
	if err != nil {
		return nil, false
	}
	defer rd.Close()
	out, err := io.ReadAll(rd)
	return out, err == nil
}

// BlobSHA is the git SHA of content as a blob.
func BlobSHA(content string) string {
	return plumbing.ComputeHash(plumbing.BlobObject, []byte(content)).String()
}

// WriteTree stores files (path -> content) as a tree and returns its SHA.
func (r *Repo) WriteTree(files map[string]string) string {
	root := &dirNode{}
	for p, content := range files {
		d := root
		parts := strings.Split(p, "/")
		for _, name := range parts[:len(parts)-1] {
			d = d.child(name)
		}
		d.files = append(d.files, fileNode{name: parts[len(parts)-1], content: content})
	}
	return r.writeDir(root).String()
}

// UpdateTree returns the tree base with changes applied (path -> content,
// nil to delete), writing only the trees along the changed paths, as a host
// does for a commit of a few files in a large repository.
func (r *Repo) UpdateTree(base string, changes map[string]*string) (string, error) {
	h, err := r.updateDir(plumbing.NewHash(base), changes)
	return h.String(), err
}

func (r *Repo) updateDir(base plumbing.Hash, changes map[string]*string) (plumbing.Hash, error) {
	var entries []object.TreeEntry
	if !base.IsZero() {
		t, err := object.GetTree(r.st, base)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries = append(entries, t.Entries...)
	}
	files := map[string]*string{}
	dirs := map[string]map[string]*string{}
	for p, c := range changes {
		if name, rest, nested := strings.Cut(p, "/"); nested {
			if dirs[name] == nil {
				dirs[name] = map[string]*string{}
			}
			dirs[name][rest] = c
		} else {
			files[p] = c
		}
	}
	out := entries[:0:0]
	for _, e := range entries {
		if _, ok := files[e.Name]; ok {
			continue
		}
		if _, ok := dirs[e.Name]; ok && e.Mode == filemode.Dir {
			continue
		}
		out = append(out, e)
	}
	for name, c := range files {
		if c != nil {
			out = append(out, object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: r.writeBlob(*c)})
		}
	}
	for name, sub := range dirs {
		old := plumbing.ZeroHash
		for _, e := range entries {
			if e.Name == name && e.Mode == filemode.Dir {
				old = e.Hash
			}
		}
		h, err := r.updateDir(old, sub)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if t, _ := object.GetTree(r.st, h); t != nil && len(t.Entries) > 0 {
			out = append(out, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
		}
	}
	sortEntries(out)
	return r.put(&object.Tree{Entries: out}), nil
}

// sortEntries orders entries as git does: a directory as if its name ended in "/".
func sortEntries(entries []object.TreeEntry) {
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(entries, func(i, j int) bool { return key(entries[i]) < key(entries[j]) })
}

type fileNode struct{ name, content string }

type dirNode struct {
	files []fileNode
	dirs  map[string]*dirNode
}

func (d *dirNode) child(name string) *dirNode {
	if d.dirs == nil {
		d.dirs = map[string]*dirNode{}
	}
	c := d.dirs[name]
	if c == nil {
		c = &dirNode{}
		d.dirs[name] = c
	}
	return c
}

func (r *Repo) writeDir(d *dirNode) plumbing.Hash {
	entries := make([]object.TreeEntry, 0, len(d.files)+len(d.dirs))
	for _, f := range d.files {
		entries = append(entries, object.TreeEntry{Name: f.name, Mode: filemode.Regular, Hash: r.writeBlob(f.content)})
	}
	for name, c := range d.dirs {
		entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: r.writeDir(c)})
	}
	sortEntries(entries)
	return r.put(&object.Tree{Entries: entries})
}

func (r *Repo) writeBlob(content string) plumbing.Hash {
	h := plumbing.ComputeHash(plumbing.BlobObject, []byte(content))
	r.mu.Lock()
	known := r.blobs[h]
	r.mu.Unlock()
	if known {
		return h // git objects are immutable: one already written is the same
	}
	obj := r.st.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	w, _ := obj.Writer()
	io.Copy(w, bytes.NewReader([]byte(content)))
	w.Close()
	if _, err := r.st.SetEncodedObject(obj); err != nil {
		panic(fmt.Sprintf("gitstore: %v", err))
	}
	r.mu.Lock()
	r.blobs[h] = true
	r.mu.Unlock()
	return h
}

type encoder interface {
	Encode(plumbing.EncodedObject) error
}

func (r *Repo) put(o encoder) plumbing.Hash {
	obj := r.st.NewEncodedObject()
	if err := o.Encode(obj); err != nil {
		panic(fmt.Sprintf("gitstore: %v", err))
	}
	h, err := r.st.SetEncodedObject(obj)
	if err != nil {
		panic(fmt.Sprintf("gitstore: %v", err))
	}
	return h
}

// WriteCommit stores a commit of tree on parents and returns its SHA.
func (r *Repo) WriteCommit(tree string, parents []string, message string) string {
	r.mu.Lock()
	r.clock = r.clock.Add(time.Second)
	when := r.clock
	r.mu.Unlock()
	sig := object.Signature{Name: "gitops-bot test", Email: "test@gitops-bot.invalid", When: when}
	c := &object.Commit{Author: sig, Committer: sig, Message: message, TreeHash: plumbing.NewHash(tree)}
	for _, p := range parents {
		c.ParentHashes = append(c.ParentHashes, plumbing.NewHash(p))
	}
	return r.put(c).String()
}

// HasTree reports whether a tree exists.
func (r *Repo) HasTree(sha string) bool {
	if !plumbing.IsHash(sha) {
		return false
	}
	_, err := object.GetTree(r.st, plumbing.NewHash(sha))
	return err == nil
}

// Ancestors returns every commit reachable from sha, itself included.
func (r *Repo) Ancestors(sha string) map[string]bool {
	return Reachable(sha, func(c string) ([]string, bool) {
		commit, ok := r.Commit(c)
		return commit.Parents, ok
	})
}

// Reachable walks a commit graph from start through parents (which says
// whether a commit is known) and returns the known commits it reaches.
func Reachable(start string, parents func(string) ([]string, bool)) map[string]bool {
	seen := map[string]bool{}
	stack := []string{start}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[c] {
			continue
		}
		ps, ok := parents(c)
		if !ok {
			continue
		}
		seen[c] = true
		stack = append(stack, ps...)
	}
	return seen
}

// IsAncestor reports whether anc is in the history of desc (or is desc).
func (r *Repo) IsAncestor(anc, desc string) bool {
	return r.Ancestors(desc)[anc]
}

// MergeBase is the nearest common ancestor of a and b, breadth-first from b.
func (r *Repo) MergeBase(a, b string) (string, bool) {
	ancestors := r.Ancestors(a)
	queue := []string{b}
	seen := map[string]bool{}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if ancestors[c] {
			return c, true
		}
		if seen[c] {
			continue
		}
		seen[c] = true
		if commit, ok := r.Commit(c); ok {
			queue = append(queue, commit.Parents...)
		}
	}
	return "", false
}

// ChangedFiles lists the paths whose content differs between two commits'
// trees (added, changed or removed), sorted.
func (r *Repo) ChangedFiles(from, to string) []string {
	a, _ := r.Files(from)
	b, _ := r.Files(to)
	var out []string
	for p, c := range b {
		if old, ok := a[p]; !ok || old != c {
			out = append(out, p)
		}
	}
	for p := range a {
		if _, ok := b[p]; !ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}
