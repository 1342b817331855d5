// Package mirror keeps a local, bare mirror of each repository the bot
// reads, under the data directory, and reads files from it. The first read
// of a repository pays for a shallow fetch of its branch; later ones fetch
// only what changed since. Mirrors are bounded in total size: the ones not
// used for longest are removed first. Writes never go through a mirror: the
// bot writes through the host's API and never pushes.
package mirror

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"k8s.io/utils/lru"
)

// Remote is where a repository is fetched from, with the credentials the
// host's API uses.
type Remote = forge.GitRemote

func auth(r Remote) transport.AuthMethod {
	if r.Username == "" && r.Password == "" {
		return nil
	}
	return &http.BasicAuth{Username: r.Username, Password: r.Password}
}

// Store holds the mirrors. Safe for concurrent use.
type Store struct {
	dir      string
	maxBytes int64
	log      *slog.Logger
	now      func() time.Time

	mu    sync.Mutex
	repos map[string]*entry // by key
}

// Options configure a Store.
type Options struct {
	// MaxBytes bounds the mirrors' total size on disk (0: unbounded).
	MaxBytes int64
	Log      *slog.Logger
	Now      func() time.Time
}

// entry is one repository's mirror.
type entry struct {
	key, dir string

	fetch    sync.RWMutex // a fetch excludes reads; reads share
	repo     *git.Repository
	storage  *filesystem.Storage // closed on eviction: it keeps the packs open
	trees    *lru.Cache          // tree hash -> the files under it (Repo.treeFiles)
	users    int                 // open readers; an entry in use is never evicted (under Store.mu)
	lastUsed time.Time           // under Store.mu
	size     int64               // bytes on disk after the last fetch (under Store.mu)
}

// New opens the store in dir, adopting the mirrors already there.
func New(dir string, o Options) (*Store, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &Store{dir: dir, maxBytes: o.MaxBytes, log: o.Log, now: o.Now, repos: map[string]*entry{}}
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if !n.IsDir() {
			continue
		}
		d := filepath.Join(dir, n.Name())
		info, _ := n.Info()
		// Adopted by directory; the key is learned on first use.
		s.repos["dir:"+n.Name()] = &entry{key: "dir:" + n.Name(), dir: d, size: dirSize(d), lastUsed: info.ModTime()}
	}
	return s, nil
}

var unsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// dirName is a readable, collision-free directory name for a key.
func dirName(key string) string {
	h := sha256.Sum256([]byte(key))
	name := unsafe.ReplaceAllString(key, "_")
	if len(name) > 80 {
		name = name[:80]
	}
	return name + "-" + hex.EncodeToString(h[:6])
}

// Sync brings the mirror of key (a host and repository, e.g.
// "github/acme/fleet") up to date with branch on the remote and returns a
// reader at the fetched commit. Close the reader when done with it.
func (s *Store) Sync(ctx context.Context, key string, remote Remote, branch string) (*Repo, error) {
	e := s.acquire(key)
	r, err := s.sync(ctx, e, remote, branch)
	if err != nil {
		s.release(e)
		return nil, err
	}
	s.evict()
	return r, nil
}

func (s *Store) acquire(key string) *entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := dirName(key)
	e, ok := s.repos[key]
	if !ok {
		if adopted, found := s.repos["dir:"+name]; found {
			delete(s.repos, "dir:"+name)
			e = adopted
			e.key = key
		} else {
			e = &entry{key: key, dir: filepath.Join(s.dir, name)}
		}
		s.repos[key] = e
	}
	e.users++
	e.lastUsed = s.now()
	return e
}

func (s *Store) release(e *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.users--
	e.lastUsed = s.now()
}

func (s *Store) sync(ctx context.Context, e *entry, remote Remote, branch string) (*Repo, error) {
	e.fetch.Lock()
	defer e.fetch.Unlock()
	if e.repo == nil {
		repo, st, err := open(e.dir)
		if err != nil {
			return nil, fmt.Errorf("mirror %s: %w", e.key, err)
		}
		e.repo, e.storage, e.trees = repo, st, lru.New(maxTrees)
	}
	local := plumbing.NewBranchReferenceName(branch)
	_, err := e.repo.Reference(local, true)
	first := err != nil
	opts := &git.FetchOptions{
		RefSpecs: []config.RefSpec{config.RefSpec(fmt.Sprintf("+refs/heads/%s:refs/heads/%s", branch, branch))},
		Auth:     auth(remote),
		Tags:     git.NoTags,
		Force:    true,
	}
	if first {
		// The first fetch takes the branch's newest commit only; later
		// fetches without a depth cost what changed since.
		opts.Depth = 1
	}
	if err := fetch(ctx, e.repo, remote.URL, opts); err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil, fmt.Errorf("fetching %s of %s: %w", branch, e.key, err)
	}
	ref, err := e.repo.Reference(local, true)
	if err != nil {
		return nil, fmt.Errorf("mirror %s has no branch %s: %w", e.key, branch, err)
	}
	size := dirSize(e.dir)
	s.mu.Lock()
	e.size = size
	s.mu.Unlock()
	return &Repo{store: s, e: e, remote: remote, branch: branch, head: ref.Hash()}, nil
}

// evict removes the mirrors not used for longest, not in use, until the
// store fits its bound.
func (s *Store) evict() {
	if s.maxBytes <= 0 {
		return
	}
	s.mu.Lock()
	var total int64
	var idle []*entry
	for _, e := range s.repos {
		total += e.size
		if e.users == 0 {
			idle = append(idle, e)
		}
	}
	sort.Slice(idle, func(i, j int) bool { return idle[i].lastUsed.Before(idle[j].lastUsed) })
	var gone []*entry
	for _, e := range idle {
		if total <= s.maxBytes {
			break
		}
		total -= e.size
		delete(s.repos, e.key)
		gone = append(gone, e)
	}
	s.mu.Unlock()
	for _, e := range gone {
		e.fetch.Lock() // no fetch is under way: it is not in use
		if e.storage != nil {
			e.storage.Close()
		}
		err := os.RemoveAll(e.dir)
		e.repo, e.storage, e.trees = nil, nil, nil
		e.fetch.Unlock()
		s.log.Info("mirror evicted", "repo", e.key, "bytes", e.size, "err", err)
	}
}

// Size is the total size of the mirrors on disk, as last measured.
func (s *Store) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var total int64
	for _, e := range s.repos {
		total += e.size
	}
	return total
}

// Has reports whether the store keeps a mirror of key.
func (s *Store) Has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.repos[key]
	return ok
}

// maxTrees bounds the listings of trees a mirror keeps: a fleet's
// directories, a few thousand, with room.
const maxTrees = 20000

// open opens (or makes) the bare repository in dir. Its packs stay open:
// listing a whole tree reads thousands of objects, and go-git otherwise
// opens the pack file again for each one.
func open(dir string) (*git.Repository, *filesystem.Storage, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	st := filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRUDefault(), filesystem.Options{KeepDescriptors: true})
	repo, err := git.Open(st, nil)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		repo, err = git.Init(st, nil)
	}
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return repo, st, nil
}

// fetch fetches from url with an anonymous remote: the mirror keeps no
// remote configuration, so a new token or URL needs nothing rewritten.
func fetch(ctx context.Context, repo *git.Repository, url string, o *git.FetchOptions) error {
	remote := git.NewRemote(repo.Storer, &config.RemoteConfig{Name: "origin", URLs: []string{url}})
	return remote.FetchContext(ctx, o)
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
