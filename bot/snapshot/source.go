package snapshot

import (
	"context"

	"github.com/gitops-bot/gitops-bot/bot/logctx"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/mirror"
)

// Source opens snapshots: from the repository's local mirror, kept current
// by fetch, when the bot keeps mirrors and the host can be fetched from;
// through the host's API otherwise.
type Source struct {
	Mirrors *mirror.Store // nil: no mirrors
}

// Open returns a snapshot of repo's default branch and the function that
// releases it. When the mirror cannot be fetched (network, permissions, a
// host that refuses) it says so in the log and reads through the host's
// API, along the paths a command needs only.
func (s Source) Open(ctx context.Context, host forge.Reader, repo forge.Repo) (*Snapshot, func()) {
	ref := repo.DefaultBranch
	f, ok := host.(forge.Fetcher)
	if s.Mirrors == nil || !ok {
		return New(host, repo, ref), func() {}
	}
	fallback := host
	if pr, ok := host.(forge.PathReading); ok {
		fallback = pr.PathReader()
	}
	log := logctx.From(ctx)
	remote, err := f.GitRemote(ctx, repo)
	if err == nil {
		var m *mirror.Repo
		if m, err = s.Mirrors.Sync(ctx, repo.Host+"/"+repo.FullName(), remote, ref); err == nil {
			// The change will be based on the commit it was computed on.
			if told, ok := host.(forge.HeadTold); ok {
				if tree, err := m.HeadTree(); err == nil {
					told.TellHead(ref, m.Head(), tree)
				}
			}
			rd := mirror.Reader{Repo: m, Fallback: fallback, OnFallback: func(ctx context.Context, err error) {
				logctx.From(ctx).Info("reading through the host's API", "reason", err.Error())
			}}
			return New(rd, repo, ref), m.Close
		}
	}
	log.Warn("the repository's mirror cannot be fetched; reading through the host's API", "err", err)
	snap := New(fallback, repo, ref)
	snap.AlongPaths = true
	return snap, func() {}
}
