package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/bot/model"
	"github.com/gitops-bot/gitops-bot/bot/snapshot"
	"github.com/gitops-bot/gitops-bot/bot/workload"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/preview"
	"github.com/gitops-bot/gitops-bot/render"
)

// PreviewCheckPrefix names the preview's checks: "gitops-bot/preview: ENV".
const PreviewCheckPrefix = "gitops-bot/preview: "

// DefaultPreviewTimeout bounds one pull request's preview.
const DefaultPreviewTimeout = 2 * time.Minute

// annotationsPerCall is what GitHub takes in one check run request.
const annotationsPerCall = 50

// previews keeps the newest head seen of each pull request: a burst of
// pushes is previewed once, for the newest, and a preview overtaken by a
// newer head is not posted.
type previews struct {
	mu    gosync.Mutex
	heads map[string]string
	cache *render.Cache
	// sources are, per repository, the chart sources its base renders
	// fetched from. The render cache is shared, so a base rendered from
	// the cache fetches nothing: what it fetched before still counts.
	sources map[string]*chartSources
}

// chartSources is a set of chart repository URLs, safe to share.
type chartSources struct {
	mu   gosync.Mutex
	urls map[string]bool
}

func (c *chartSources) add(u string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.urls[u] = true
}

func (c *chartSources) has(u string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.urls[u]
}

func (p *previews) sourcesOf(repo string) *chartSources {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sources == nil {
		p.sources = map[string]*chartSources{}
	}
	if p.sources[repo] == nil {
		p.sources[repo] = &chartSources{urls: map[string]bool{}}
	}
	return p.sources[repo]
}

func (p *previews) see(key, head string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.heads == nil {
		p.heads = map[string]string{}
	}
	p.heads[key] = head
}

func (p *previews) newest(key, head string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.heads[key] == head
}

func (p *previews) renders() *render.Cache {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cache == nil {
		p.cache = render.NewCache(20000)
	}
	return p.cache
}

// preview posts, for each environment whose render reads a file of the
// pull request, a check on its head saying what the environment will get.
// The pull request's files are rendered, never run; charts are fetched
// only from sources the base already renders from.
func (b *Bot) preview(ctx context.Context, f forge.PullForge, ev forge.PullEvent, files []string) (err error) {
	if ev.Base == "" {
		return nil
	}
	log := b.Log.With("host", ev.Repo.Host, "repo", ev.Repo.FullName(), "pull", ev.Number, "head", ev.HeadSHA)
	key := ev.Repo.FullName() + "#" + fmt.Sprint(ev.Number)
	b.previews.see(key, ev.HeadSHA)
	if b.PreviewDelay > 0 {
		select {
		case <-time.After(b.PreviewDelay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if !b.previews.newest(key, ev.HeadSHA) {
		log.Info("preview skipped: a newer head came")
		return nil
	}
	// The base's configuration decides: a pull request cannot turn on what
	// its base leaves off.
	cfg, err := config.Load(ctx, f, ev.Repo, ev.Base)
	var invalid *config.Error
	switch {
	case errors.As(err, &invalid):
		log.Info("preview skipped: the base's config is invalid", "err", err)
		return nil
	case errors.Is(err, forge.ErrNotFound):
		log.Info("preview skipped: the base cannot be read", "base", ev.Base, "err", err)
		return nil
	case err != nil:
		return fmt.Errorf("reading %s at %s: %w", config.Path, ev.Base, err)
	case cfg.Preview.Disabled:
		return nil
	case ev.Fork && !cfg.Preview.Forks:
		log.Info("preview skipped: a pull request from a fork (preview.forks is off)")
		return nil
	}
	defer func() {
		// A preview that breaks is a finished check, never a crash.
		if p := recover(); p != nil {
			log.Error("preview panicked", "panic", p)
			err = b.postPreviewFailure(ctx, f, ev, fmt.Sprintf("the preview stopped on an internal error (%v); it was logged", p))
		}
	}()
	timeout := b.PreviewTimeout
	if timeout == 0 {
		timeout = DefaultPreviewTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	baseSnap, headSnap := snapshot.New(f, ev.Repo, ev.Base), snapshot.New(f, ev.Repo, ev.HeadSHA)
	baseTree, headTree := render.NewTree(rctx, baseSnap, ev.Base), render.NewTree(rctx, headSnap, ev.HeadSHA)
	specs := b.previewSpecs(rctx, cfg, headSnap, headTree)
	charts := newGuardedCharts(b.Charts, b.previews.sourcesOf(ev.Repo.Host+":"+ev.Repo.FullName()))
	cache := b.previews.renders()
	rb := render.New(render.Options{Tools: model.Tools(), RepoURL: ev.Repo.CloneURL, Charts: charts.base(), Cache: cache})
	rh := render.New(render.Options{Tools: model.Tools(), RepoURL: ev.Repo.CloneURL, Charts: charts.head(), Cache: cache})
	fail := map[string]bool{}
	for _, id := range cfg.Preview.Fail {
		fail[id] = true
	}
	opts := preview.Options{Fail: fail, SeeAll: fmt.Sprintf("gitops-bot preview --base %.12s --head %.12s", ev.Base, ev.HeadSHA)}
	started := time.Now()
	reports, err := preview.Environments(rctx, rb, rh, specs, baseTree, headTree, files, opts)
	if err != nil {
		why := errs.Message(err) // a check run is read by people, as a reply is
		if errors.Is(err, context.DeadlineExceeded) {
			why = fmt.Sprintf("rendering both sides took longer than %s", timeout)
		}
		return b.postPreviewFailure(ctx, f, ev, why)
	}
	if refused := charts.refused(); len(refused) > 0 {
		// The head names chart sources the base does not: said on each
		// preview, as rendered offline for them.
		for _, r := range reports {
			r.Summary = preview.OfflineNote(strings.Join(refused, ", ")) + r.Summary
		}
	}
	if !b.previews.newest(key, ev.HeadSHA) || superseded(ctx, f, ev, log) {
		log.Info("preview not posted: a newer head came while it rendered")
		return nil
	}
	for _, r := range reports {
		if err := postPreview(ctx, f, ev, r); err != nil {
			return err
		}
	}
	if resp, ok := f.(forge.Responder); ok && ev.Repo.Host == "gitlab" && len(reports) > 0 {
		// A commit status has no text: the previews go in one note of the
		// merge request, updated in place.
		if err := resp.Reply(ctx, ev.Repo, forge.Reply{Thread: ev.Number, PR: true, Key: "preview", Body: previewNote(reports)}); err != nil {
			return fmt.Errorf("posting the preview note: %w", err)
		}
	}
	log.Info("preview", "environments", len(reports), "duration", time.Since(started).Seconds())
	return nil
}

// superseded asks the host whether the pull request has a newer head than
// the one previewed: a delivery can wait in the queue behind the newer
// one's, and the host, not the order of handling, says which is newest.
// If the host cannot say, the preview is posted.
func superseded(ctx context.Context, f forge.PullForge, ev forge.PullEvent, log *slog.Logger) bool {
	info, err := f.Pull(ctx, ev.Repo, ev.Number)
	if err != nil {
		log.Info("could not read the pull request's head; posting the preview", "err", err)
		return false
	}
	return info.Head != "" && info.Head != ev.HeadSHA
}

// previewSpecs are the environments to preview: the configuration's (all,
// or those preview.environments names), each with its tool.
func (b *Bot) previewSpecs(ctx context.Context, cfg *config.Config, snap *snapshot.Snapshot, tree *render.Tree) []render.Spec {
	specs := model.Specs(cfg, tree.Under(""))
	var out []render.Spec
	for _, s := range specs {
		if len(cfg.Preview.Environments) > 0 && !slices.Contains(cfg.Preview.Environments, s.Name) {
			continue
		}
		if cfg.ProviderDefaulted() {
			w := &workload.Repo{Files: snap, Config: cfg}
			if found, err := w.DetectProvider(ctx, s.Dir); err == nil && found != "" {
				s.Tool = found
			}
		}
		out = append(out, s)
	}
	return out
}

// postPreview reports one environment's preview on the head, its
// annotations 50 to a request as GitHub takes them.
func postPreview(ctx context.Context, f forge.PullForge, ev forge.PullEvent, r *preview.Report) error {
	c := forge.Check{Name: PreviewCheckPrefix + r.Env, ExternalID: fmt.Sprintf("preview/%d/%s", ev.Number, r.Env), Status: "completed",
		Conclusion: r.Conclusion, Title: md.Clip(r.Title, 1000), Summary: r.Summary, Text: r.Text}
	rest := r.Annotations
	if ev.Repo.Host == "gitlab" {
		rest = nil // a commit status has none: one write
	}
	for first := true; first || len(rest) > 0; first = false {
		n := min(len(rest), annotationsPerCall)
		c.Annotations = rest[:n]
		rest = rest[n:]
		var err error
		if c, err = f.Report(ctx, ev.Repo, ev.HeadSHA, c); err != nil {
			return fmt.Errorf("reporting the preview of %s: %w", r.Env, err)
		}
	}
	return nil
}

// postPreviewFailure is one finished check saying why there is no preview.
func (b *Bot) postPreviewFailure(ctx context.Context, f forge.PullForge, ev forge.PullEvent, why string) error {
	c := forge.Check{Name: strings.TrimSuffix(PreviewCheckPrefix, ": "), ExternalID: fmt.Sprintf("preview/%d", ev.Number), Status: "completed",
		Conclusion: "failure", Title: "No preview: " + md.Clip(why, 200), Summary: "I could not preview this pull request: " + why}
	if _, err := f.Report(ctx, ev.Repo, ev.HeadSHA, c); err != nil {
		return fmt.Errorf("reporting the preview failure: %w", err)
	}
	return nil
}

// previewNote is the merge-request note of every environment's preview.
func previewNote(reports []*preview.Report) string {
	var b strings.Builder
	b.WriteString("**What each environment will get** (gitops-bot preview of the newest push)\n")
	for _, r := range reports {
		fmt.Fprintf(&b, "\n<details><summary>%s — %s</summary>\n\n%s\n</details>\n", md.Escape(r.Title), r.Conclusion, r.Summary)
	}
	return md.Clip(b.String(), 900000)
}

// guardedCharts fetch, for the head, only from chart sources a base of
// the repository fetched from: a pull request that adds a source is
// rendered offline for it.
type guardedCharts struct {
	inner render.Charts
	seen  *chartSources
	mu    gosync.Mutex
	no    map[string]bool
}

func newGuardedCharts(c workload.ChartRenderer, seen *chartSources) *guardedCharts {
	g := &guardedCharts{seen: seen, no: map[string]bool{}}
	g.inner, _ = c.(render.Charts)
	return g
}

type chartsSide struct {
	g    *guardedCharts
	head bool
}

func (g *guardedCharts) base() render.Charts {
	if g.inner == nil {
		return nil
	}
	return chartsSide{g: g}
}

func (g *guardedCharts) head() render.Charts {
	if g.inner == nil {
		return nil
	}
	return chartsSide{g: g, head: true}
}

func (s chartsSide) Load(ctx context.Context, repoURL, name, version string) (*chart.Chart, error) {
	if !s.head {
		s.g.seen.add(repoURL)
	} else if !s.g.seen.has(repoURL) {
		s.g.mu.Lock()
		s.g.no[repoURL] = true
		s.g.mu.Unlock()
		return nil, fmt.Errorf("%s is not fetched: the base branch renders no chart from it (%w)", repoURL, render.ErrOffline)
	}
	return s.g.inner.Load(ctx, repoURL, name, version)
}

func (g *guardedCharts) refused() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for u := range g.no {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}
