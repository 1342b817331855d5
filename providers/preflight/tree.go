// Package preflight checks a change before any branch is written: it builds
// every kustomization the change touches with the kustomize API, lints and
// renders charts with the Helm SDK, and validates every resulting object
// against Kubernetes' built-in schemas and the Argo CD and Flux CRDs.
package preflight

import (
	"context"
	"path"
	"path/filepath"
	"sort"
	"strings"
	gosync "sync"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gitops-bot/gitops-bot/forge"
)

// Source is the repository at a ref as the tree reads it: the files under
// a directory ("" for all of them, recursively) and a file's content.
type Source interface {
	Under(ctx context.Context, dir string) ([]string, error)
	Read(ctx context.Context, path string) ([]byte, error)
}

// Tree is the repository at a ref with a change on top, read lazily: only
// the directories a build looks at are listed and only the files it
// touches are read.
type Tree struct {
	ctx     context.Context
	src     Source
	changes map[string]*forge.File
	mem     filesys.FileSystem

	mu     gosync.Mutex
	listed map[string][]string // directory -> files under it in src
	loaded map[string]bool
	err    error // first read error
}

// NewTree returns the repository at ref (whose files are listed in
// files) with changes applied.
func NewTree(ctx context.Context, r forge.Reader, repo forge.Repo, ref string, files []string, changes []forge.File) *Tree {
	return NewLazyTree(ctx, listedSource{r: r, repo: repo, ref: ref, files: files}, changes)
}

// NewLazyTree returns src with changes applied.
func NewLazyTree(ctx context.Context, src Source, changes []forge.File) *Tree {
	t := &Tree{ctx: ctx, src: src, changes: map[string]*forge.File{}, mem: filesys.MakeFsInMemory(),
		listed: map[string][]string{}, loaded: map[string]bool{}}
	for i := range changes {
		c := &changes[i]
		t.changes[c.Path] = c
		t.loaded[c.Path] = true
		if !c.Delete {
			t.mem.MkdirAll("/" + path.Dir(c.Path))
			t.mem.WriteFile("/"+c.Path, c.Content)
		}
	}
	return t
}

// listedSource is a reader whose files are listed beforehand.
type listedSource struct {
	r     forge.Reader
	repo  forge.Repo
	ref   string
	files []string
}

func (l listedSource) Under(_ context.Context, dir string) ([]string, error) {
	var out []string
	for _, f := range l.files {
		if dir == "" || strings.HasPrefix(f, dir+"/") {
			out = append(out, f)
		}
	}
	return out, nil
}

func (l listedSource) Read(ctx context.Context, p string) ([]byte, error) {
	return l.r.ReadFile(ctx, l.repo, l.ref, p)
}

// Err is the first error reading the repository, if any.
func (t *Tree) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// ReadFile reads a file of the tree (repository path).
func (t *Tree) ReadFile(p string) ([]byte, error) {
	t.load(p)
	return t.mem.ReadFile("/" + p)
}

// under lists the source's files under dir, once per directory.
func (t *Tree) under(dir string) []string {
	t.mu.Lock()
	files, ok := t.listed[dir]
	t.mu.Unlock()
	if ok {
		return files
	}
	files, err := t.src.Under(t.ctx, dir)
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil && t.err == nil {
		t.err = err
	}
	t.listed[dir] = files
	return files
}

// Under lists the files under dir (repository paths), sorted.
func (t *Tree) Under(dir string) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range t.under(dir) {
		if c, ok := t.changes[f]; ok && c.Delete {
			continue
		}
		seen[f] = true
		out = append(out, f)
	}
	for p, c := range t.changes {
		if !c.Delete && !seen[p] && (dir == "" || strings.HasPrefix(p, dir+"/")) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// Exists reports whether a file is in the tree.
func (t *Tree) Exists(p string) bool {
	if c, ok := t.changes[p]; ok {
		return !c.Delete
	}
	dir := path.Dir(p)
	if dir == "." {
		dir = ""
	}
	for _, f := range t.under(dir) {
		if f == p {
			return true
		}
	}
	return false
}

// load fetches file p (repository path) into memory once.
func (t *Tree) load(p string) {
	t.mu.Lock()
	done := t.loaded[p]
	t.mu.Unlock()
	if done || !t.Exists(p) {
		return
	}
	t.mu.Lock()
	if t.loaded[p] {
		t.mu.Unlock()
		return
	}
	t.loaded[p] = true
	t.mu.Unlock()
	b, err := t.src.Read(t.ctx, p)
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		if t.err == nil {
			t.err = err
		}
		return
	}
	t.mem.MkdirAll("/" + path.Dir(p))
	t.mem.WriteFile("/"+p, b)
}

// loadDir makes dir exist in memory and, when deep, fetches the files
// under it (direct children only, unless recursive).
func (t *Tree) loadDir(dir string, recursive bool) {
	prefix := strings.Trim(dir, "/")
	for _, f := range t.Under(prefix) {
		rest := strings.TrimPrefix(f, prefix+"/")
		if !recursive && strings.Contains(rest, "/") {
			t.mem.MkdirAll("/" + prefix + "/" + strings.SplitN(rest, "/", 2)[0])
			continue
		}
		t.load(f)
	}
	if prefix != "" && len(t.Under(prefix)) > 0 {
		t.mem.MkdirAll("/" + prefix)
	}
}

// FS is the tree as kustomize reads it, rooted at "/".
func (t *Tree) FS() filesys.FileSystem { return &lazyFS{FileSystem: t.mem, t: t} }

// lazyFS faults repository files into the in-memory file system the first
// time kustomize asks for them.
type lazyFS struct {
	filesys.FileSystem
	t *Tree
}

func rel(p string) string { return strings.TrimPrefix(filepath.ToSlash(filepath.Clean(p)), "/") }

func (f *lazyFS) touch(p string) {
	r := rel(p)
	if f.t.Exists(r) {
		f.t.load(r)
		return
	}
	f.t.loadDir(r, false)
}

func (f *lazyFS) Open(p string) (filesys.File, error) { f.touch(p); return f.FileSystem.Open(p) }
func (f *lazyFS) IsDir(p string) bool                 { f.touch(p); return f.FileSystem.IsDir(p) }
func (f *lazyFS) Exists(p string) bool                { f.touch(p); return f.FileSystem.Exists(p) }
func (f *lazyFS) ReadFile(p string) ([]byte, error)   { f.touch(p); return f.FileSystem.ReadFile(p) }
func (f *lazyFS) ReadDir(p string) ([]string, error) {
	f.t.loadDir(rel(p), false)
	return f.FileSystem.ReadDir(p)
}
func (f *lazyFS) Glob(pattern string) ([]string, error) {
	f.t.loadDir(rel(path.Dir(pattern)), false)
	return f.FileSystem.Glob(pattern)
}
func (f *lazyFS) Walk(p string, fn filepath.WalkFunc) error {
	f.t.loadDir(rel(p), true)
	return f.FileSystem.Walk(p, fn)
}
func (f *lazyFS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	f.touch(p)
	return f.FileSystem.CleanedAbs(p)
}
