package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/gitops-bot/gitops-bot/forge"
)

// ErrNotMirrored is returned (wrapped) for a ref the mirror does not hold
// and cannot fetch: the caller reads it through the host's API instead.
var ErrNotMirrored = errors.New("not in the mirror")

// Repo reads one mirror at the commit Sync fetched.
type Repo struct {
	store  *Store
	e      *entry
	remote Remote
	branch string
	head   plumbing.Hash
	closed bool
}

// Head is the commit of the branch that Sync fetched.
func (r *Repo) Head() string { return r.head.String() }

// HeadTree is the tree of the commit Sync fetched.
func (r *Repo) HeadTree() (string, error) {
	r.e.fetch.RLock()
	defer r.e.fetch.RUnlock()
	c, err := object.GetCommit(r.e.repo.Storer, r.head)
	if err != nil {
		return "", err
	}
	return c.TreeHash.String(), nil
}

// Close lets the store evict the mirror again.
func (r *Repo) Close() {
	if !r.closed {
		r.closed = true
		r.store.release(r.e)
	}
}

// commit resolves ref (the branch, or a commit SHA) to a commit in the
// mirror, fetching a commit it does not hold yet.
func (r *Repo) commit(ctx context.Context, ref string) (*object.Commit, error) {
	h := r.head
	if ref != "" && ref != r.branch && ref != "refs/heads/"+r.branch {
		if !plumbing.IsHash(ref) {
			return nil, fmt.Errorf("ref %s: %w", ref, ErrNotMirrored)
		}
		h = plumbing.NewHash(ref)
	}
	r.e.fetch.RLock()
	c, err := object.GetCommit(r.e.repo.Storer, h)
	r.e.fetch.RUnlock()
	if err == nil {
		return c, nil
	}
	if err := r.fetchCommit(ctx, h); err != nil {
		return nil, fmt.Errorf("commit %s: %w (%v)", h, ErrNotMirrored, err)
	}
	r.e.fetch.RLock()
	defer r.e.fetch.RUnlock()
	return object.GetCommit(r.e.repo.Storer, h)
}

// fetchCommit fetches one commit by its SHA (hosts allow reachable ones),
// for reads at a merge commit's parent or a pull request's head.
func (r *Repo) fetchCommit(ctx context.Context, h plumbing.Hash) error {
	r.e.fetch.Lock()
	defer r.e.fetch.Unlock()
	err := fetch(ctx, r.e.repo, r.remote.URL, &git.FetchOptions{
		RefSpecs: []config.RefSpec{config.RefSpec(fmt.Sprintf("%s:refs/gitops-bot/fetched/%s", h, h))},
		Auth:     auth(r.remote),
		Tags:     git.NoTags,
		Depth:    1,
	})
	if errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	return err
}

// tree is the root tree at ref, read under the mirror's read lock, which
// done releases.
func (r *Repo) tree(ctx context.Context, ref string) (*object.Tree, func(), error) {
	c, err := r.commit(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	r.e.fetch.RLock()
	tree, err := c.Tree()
	if err != nil {
		r.e.fetch.RUnlock()
		return nil, nil, err
	}
	return tree, r.e.fetch.RUnlock, nil
}

// ReadFile reads a file at ref; forge.ErrNotFound when it is not there,
// ErrNotMirrored when the ref cannot be read here.
func (r *Repo) ReadFile(ctx context.Context, ref, path string) ([]byte, error) {
	tree, done, err := r.tree(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer done()
	f, err := tree.File(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, forge.ErrNotFound)
	}
	if err := forge.CheckSize(path, f.Size); err != nil {
		return nil, err
	}
	rd, err := f.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

// Entries lists the files under dir at ref ("" is the whole tree), sorted.
func (r *Repo) Entries(ctx context.Context, ref, dir string) ([]forge.Entry, error) {
	tree, done, err := r.tree(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer done()
	dir = strings.Trim(dir, "/")
	if dir != "" {
		if tree, err = tree.Tree(dir); err != nil {
			return nil, nil // no such directory: no files
		}
	}
	files, err := r.treeFiles(tree)
	if err != nil {
		return nil, err
	}
	out := make([]forge.Entry, len(files))
	for i, f := range files {
		out[i] = f
		if dir != "" {
			out[i].Path = dir + "/" + f.Path
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// treeFiles lists the files under t, their paths relative to it. A tree's
// hash names its whole content, so what was listed once is kept by hash:
// after a merge only the trees along the changed paths are read again.
// The result is shared: callers copy before they change it.
func (r *Repo) treeFiles(t *object.Tree) ([]forge.Entry, error) {
	if v, ok := r.e.trees.Get(t.Hash); ok {
		return v.([]forge.Entry), nil
	}
	var out []forge.Entry
	for _, te := range t.Entries {
		switch {
		case te.Mode == filemode.Dir:
			sub, err := object.GetTree(r.e.repo.Storer, te.Hash)
			if err != nil {
				return nil, err
			}
			files, err := r.treeFiles(sub)
			if err != nil {
				return nil, err
			}
			for _, f := range files {
				out = append(out, forge.Entry{Path: te.Name + "/" + f.Path, Blob: f.Blob})
			}
		case te.Mode.IsFile():
			out = append(out, forge.Entry{Path: te.Name, Blob: te.Hash.String()})
		}
	}
	if len(out) <= maxTreeFiles {
		// The big listings near the root change with every merge: built
		// again from their parts, not kept one per commit.
		r.e.trees.Add(t.Hash, out)
	}
	return out, nil
}

// maxTreeFiles is the largest listing of a tree kept.
const maxTreeFiles = 1024

// ListFiles lists the paths under dir at ref.
func (r *Repo) ListFiles(ctx context.Context, ref, dir string) ([]string, error) {
	es, err := r.Entries(ctx, ref, dir)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Path
	}
	return out, nil
}
