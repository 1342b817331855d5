// Package snapshot is a repository at one ref as a command reads it: the
// file list is fetched once, files on demand, and nothing is written.
package snapshot

import (
	"context"
	"strings"
	"sync"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers"
)

// Snapshot reads Repo at Ref through a reader: a local mirror, or the
// host's API. Safe for concurrent use.
type Snapshot struct {
	Reader forge.Reader
	Repo   forge.Repo
	Ref    string
	// AlongPaths: the mirror could not be fetched and reads go through the
	// host's API, so what needs the whole repository (discovery) is skipped.
	AlongPaths bool

	mu     sync.Mutex
	listed map[string][]string          // directory ("" for all) -> files under it
	blobs  map[string]map[string]string // directory -> path -> blob SHA, where the reader knows them
}

// New returns a snapshot of r at ref.
func New(f forge.Reader, r forge.Repo, ref string) *Snapshot {
	return &Snapshot{Reader: f, Repo: r, Ref: ref, listed: map[string][]string{}, blobs: map[string]map[string]string{}}
}

// Files lists all the repository's files.
func (s *Snapshot) Files(ctx context.Context) ([]string, error) { return s.Under(ctx, "") }

// Under lists the files under dir, recursively ("" for all), each
// directory once; what a listing of a parent holds is not asked again.
func (s *Snapshot) Under(ctx context.Context, dir string) ([]string, error) {
	dir = strings.Trim(dir, "/")
	s.mu.Lock()
	files, ok := s.listed[dir]
	if !ok {
		for d, all := range s.listed {
			if d == "" || strings.HasPrefix(dir, d+"/") {
				files, ok = filter(all, dir), true
				break
			}
		}
	}
	s.mu.Unlock()
	if ok {
		return files, nil
	}
	files, err := s.Reader.ListFiles(ctx, s.Repo, s.Ref, dir)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.listed[dir] = files
	s.mu.Unlock()
	return files, nil
}

func filter(files []string, dir string) []string {
	var out []string
	for _, f := range files {
		if dir == "" || strings.HasPrefix(f, dir+"/") {
			out = append(out, f)
		}
	}
	return out
}

// Read returns a file's content, or an error wrapping forge.ErrNotFound.
func (s *Snapshot) Read(ctx context.Context, path string) ([]byte, error) {
	return s.Reader.ReadFile(ctx, s.Repo, s.Ref, path)
}

// Existing returns the first of paths (files, or directories holding files)
// that the repository has, or "".
func (s *Snapshot) Existing(ctx context.Context, paths ...string) (string, error) {
	for _, p := range paths {
		p = strings.Trim(p, "/")
		if s.listedNonEmpty(p) {
			return p, nil // a directory already listed: its parent need not be
		}
		files, err := s.Under(ctx, parent(p))
		if err != nil {
			return "", err
		}
		for _, f := range files {
			if f == p || strings.HasPrefix(f, p+"/") {
				return p, nil
			}
		}
	}
	return "", nil
}

// listedNonEmpty: dir was listed on its own and holds files.
func (s *Snapshot) listedNonEmpty(dir string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.listed[dir]) > 0
}

func parent(p string) string {
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[:i]
	}
	return ""
}

// YAMLUnder lists the YAML files under dir.
func (s *Snapshot) YAMLUnder(ctx context.Context, dir string) ([]string, error) {
	files, err := s.Under(ctx, dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, ".yaml") || strings.HasSuffix(f, ".yml") {
			out = append(out, f)
		}
	}
	return out, nil
}

// FluxSource finds, under dir, a Flux source of kind whose URL matches,
// with its namespace defaulted to ns.
func (s *Snapshot) FluxSource(ctx context.Context, dir, ns, kind string, match func(url string) bool) (*providers.Ref, error) {
	files, err := s.YAMLUnder(ctx, dir)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		objs, err := s.Objects(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			if o.Kind == kind && strings.HasPrefix(o.APIVersion, "source.toolkit.fluxcd.io/") && match(o.URL) {
				ref := providers.Ref{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}
				if ref.Namespace == "" {
					ref.Namespace = ns
				}
				return &ref, nil
			}
		}
	}
	return nil, nil
}
