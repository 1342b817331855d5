package mirror

import (
	"context"
	"errors"

	"github.com/gitops-bot/gitops-bot/forge"
)

// Reader is a forge.Reader on a mirror: reads are local, and what the
// mirror cannot serve (a ref it cannot fetch) is read through Fallback,
// the host's API, along the paths asked for only.
type Reader struct {
	Repo     *Repo
	Fallback forge.Reader
	// OnFallback, when set, hears why a read went to the host (for logs).
	OnFallback func(ctx context.Context, err error)
}

func (r Reader) fallback(ctx context.Context, err error) bool {
	if errors.Is(err, ErrNotMirrored) && r.Fallback != nil {
		if r.OnFallback != nil {
			r.OnFallback(ctx, err)
		}
		return true
	}
	return false
}

// ReadFile implements forge.Reader.
func (r Reader) ReadFile(ctx context.Context, repo forge.Repo, ref, path string) ([]byte, error) {
	b, err := r.Repo.ReadFile(ctx, ref, path)
	if r.fallback(ctx, err) {
		return r.Fallback.ReadFile(ctx, repo, ref, path)
	}
	return b, err
}

// ListFiles implements forge.Reader.
func (r Reader) ListFiles(ctx context.Context, repo forge.Repo, ref, dir string) ([]string, error) {
	files, err := r.Repo.ListFiles(ctx, ref, dir)
	if r.fallback(ctx, err) {
		return r.Fallback.ListFiles(ctx, repo, ref, dir)
	}
	return files, err
}

// ListEntries implements forge.EntryLister.
func (r Reader) ListEntries(ctx context.Context, repo forge.Repo, ref, dir string) ([]forge.Entry, error) {
	return r.Repo.Entries(ctx, ref, dir)
}
