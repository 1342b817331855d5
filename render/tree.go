package render

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path"
	"path/filepath"
	"sort"
	"strings"
	gosync "sync"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers/preflight"
)

// Source is a repository at one commit: its files under a directory and
// their content (bot/snapshot.Snapshot, a directory on disk).
type Source = preflight.Source

// Tree is a repository at one commit, maybe with changes on top, read
// lazily. Its ID names its content: renders are cached by it.
type Tree struct {
	ID    string
	src   Source
	t     *preflight.Tree
	edits []forge.File
}

// NewTree reads src; id names its commit (a tree SHA), "" for no caching.
func NewTree(ctx context.Context, src Source, id string) *Tree {
	return &Tree{ID: id, src: src, t: preflight.NewLazyTree(ctx, src, nil)}
}

// With is the tree with files changed (Content nil and Delete set removes
// one). It reads the unchanged files from the same source.
func (t *Tree) With(ctx context.Context, changes []forge.File) *Tree {
	all := append(append([]forge.File(nil), t.edits...), changes...)
	id := ""
	if t.ID != "" {
		h := sha256.New()
		h.Write([]byte(t.ID))
		for _, c := range all {
			h.Write([]byte("\x00" + c.Path + "\x00"))
			h.Write(c.Content)
			if c.Delete {
				h.Write([]byte{1})
			}
		}
		id = hex.EncodeToString(h.Sum(nil))
	}
	return &Tree{ID: id, src: t.src, t: preflight.NewLazyTree(ctx, t.src, all), edits: all}
}

// Edits are the changes on top of the source.
func (t *Tree) Edits() []forge.File { return t.edits }

// Read returns a file's content.
func (t *Tree) Read(p string) ([]byte, error) { return t.t.ReadFile(clean(p)) }

// Exists reports whether file p is in the tree.
func (t *Tree) Exists(p string) bool { return t.t.Exists(clean(p)) }

// Under lists the files under dir ("" for all), sorted.
func (t *Tree) Under(dir string) []string { return t.t.Under(clean(dir)) }

// IsDir reports whether dir holds files.
func (t *Tree) IsDir(dir string) bool { return len(t.Under(dir)) > 0 }

// Err is the first error reading the source.
func (t *Tree) Err() error { return t.t.Err() }

func clean(p string) string {
	p = strings.Trim(path.Clean("/"+filepath.ToSlash(p)), "/")
	if p == "." {
		return ""
	}
	return p
}

// recorder is the tree as kustomize reads it, noting each file read.
type recorder struct {
	filesys.FileSystem
	t    *Tree
	mu   gosync.Mutex
	read map[string]bool
}

func (t *Tree) recorder() *recorder {
	return &recorder{FileSystem: t.t.FS(), t: t, read: map[string]bool{}}
}

func (r *recorder) note(p string) {
	p = clean(p)
	if r.t.Exists(p) {
		r.mu.Lock()
		r.read[p] = true
		r.mu.Unlock()
	}
}

func (r *recorder) inputs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.read))
	for p := range r.read {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func (r *recorder) Open(p string) (filesys.File, error) { r.note(p); return r.FileSystem.Open(p) }
func (r *recorder) ReadFile(p string) ([]byte, error)   { r.note(p); return r.FileSystem.ReadFile(p) }
func (r *recorder) Exists(p string) bool                { r.note(p); return r.FileSystem.Exists(p) }
