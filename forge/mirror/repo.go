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
	var out []forge.Entry
	walker := object.NewTreeWalker(tree, true, nil)
	defer walker.Close()
	for {
		name, e, err := walker.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if !e.Mode.IsFile() {
			continue
		}
		p := name
		if dir != "" {
			p = dir + "/" + name
		}
		out = append(out, forge.Entry{Path: p, Blob: e.Hash.String()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

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
