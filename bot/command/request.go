package command

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/snapshot"
	"github.com/gitops-bot/gitops-bot/bot/suggest"
	"github.com/gitops-bot/gitops-bot/bot/workload"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers"
)

// Request is what a verb gets: the command, who gave it where, and the
// parts of the bot it may use. It is not changed while the verb runs.
type Request struct {
	Line string   // the command as written, for replies
	Args []string // positional arguments, flags parsed

	Host   forge.Forge        // the repository's host: reads, pull requests, replies
	Repo   forge.Repo         // where the command runs
	Config *config.Config     // the repository's .gitops-bot.yaml
	Files  *snapshot.Snapshot // the default branch, read once per command
	// Owners asks a cluster which GitOps object applies a workload; nil
	// when the bot has no cluster.
	Owners workload.Owners
	// Objects reads GitOps objects from the clusters' caches (/status);
	// nil when the bot has no cluster.
	Objects   workload.Objects
	Providers map[string]providers.Provider
	// Merges starts post-merge verifications (/verify); nil without a cluster.
	Merges Merges
	// Charts renders charts of Helm repositories; nil: not rendered.
	Charts workload.ChartRenderer

	Author string
	Thread int
	IsPR   bool

	// Plan: show the change instead of proposing it (/plan).
	Plan bool
	// Redirected: running in the repository that owns a workload, for a
	// comment made in another one.
	Redirected bool
	// For changes not asked for in a comment (alerts): the branch to use
	// and the account of why, in place of "requested by".
	Branch, Origin string
}

// Merges starts the verification of a merged pull request and returns the
// environments it started.
type Merges interface {
	VerifyMerge(ctx context.Context, f forge.MergeForge, ev forge.MergeEvent) ([]string, error)
}

// Workloads gives a verb the workload engine for this request.
func (r *Request) Workloads() *workload.Repo {
	return &workload.Repo{Files: r.Files, Config: r.Config, Owners: r.Owners, CloneURL: r.Repo.CloneURL, Redirected: r.Redirected, Charts: r.Charts}
}

// Provider resolves a --provider flag against the repository config; a
// config that names no provider leaves it to the objects the environments'
// directories hold.
func (r *Request) Provider(ctx context.Context, flag string, envs []config.Environment) (providers.Provider, error) {
	name := r.Config.Provider
	if r.Config.ProviderDefaulted() {
		var dirs []string
		for _, e := range envs {
			dirs = append(dirs, e.Dir)
		}
		if found, err := r.Workloads().DetectProvider(ctx, dirs...); err != nil {
			return nil, err
		} else if found != "" {
			name = found
		}
	}
	if flag != "" {
		name = flag
	}
	p, ok := r.Providers[name]
	if !ok {
		return nil, fmt.Errorf("--provider %q: want argocd or flux", name)
	}
	return p, nil
}

// Environments resolves --env flags, in the order given, without repeats.
// Where the config lists no environments any name is one, in its own
// directory; a name with no directory that is a slip of one that has
// (`stagin` beside `staging`) is refused with the name meant.
func (r *Request) Environments(ctx context.Context, flags []string) ([]config.Environment, error) {
	if len(flags) == 0 {
		return nil, fmt.Errorf("--env is required")
	}
	seen := map[string]bool{}
	var out []config.Environment
	for _, name := range flags {
		if seen[name] {
			continue
		}
		seen[name] = true
		e, err := r.Config.Environment(name)
		if err != nil {
			return nil, err
		}
		if err := r.slip(ctx, e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// slip refuses an environment the config does not list whose directory
// does not exist when a sibling's name is that name misspelled.
func (r *Request) slip(ctx context.Context, e config.Environment) error {
	if r.Config.ListsEnvironments() || r.Files == nil {
		return nil
	}
	if dir, err := r.Files.Existing(ctx, e.Dir); err != nil || dir != "" {
		return err
	}
	root := path.Dir(e.Dir)
	files, err := r.Files.Under(ctx, root)
	if err != nil {
		return err
	}
	var siblings []string
	for _, f := range files {
		if d, _, ok := strings.Cut(strings.TrimPrefix(f, root+"/"), "/"); ok && !slices.Contains(siblings, d) {
			siblings = append(siblings, d)
		}
	}
	if hint := suggest.DidYouMean(e.Name, siblings, strconv.Quote); hint != "" {
		return fmt.Errorf("environment %q has no directory (%s does not exist).%s", e.Name, e.Dir, hint)
	}
	return nil
}
