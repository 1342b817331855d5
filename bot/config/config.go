// Package config reads a repository's .gitops-bot.yaml: the provider, the
// layout, the environments and who may run commands.
package config

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/gitops-bot/gitops-bot/bot/config/yamlconf"
	"github.com/gitops-bot/gitops-bot/bot/suggest"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers"
)

// Path is where the repository config lives, on the default branch.
const Path = ".gitops-bot.yaml"

// MaxBytes bounds the config: a few environments and rules take a few KB.
const MaxBytes = 64 << 10

// Config is .gitops-bot.yaml. Every field is optional; see Defaults.
type Config struct {
	Provider     string        `yaml:"provider"`
	BranchPrefix string        `yaml:"branchPrefix"`
	Labels       []string      `yaml:"labels"`
	Access       Access        `yaml:"access"`
	Layout       Layout        `yaml:"layout"`
	Environments []Environment `yaml:"environments"`
	// VerifyTimeout bounds post-merge verification.
	VerifyTimeout Duration `yaml:"verifyTimeout"`
	// VerifyFailureGrace is how long a failure the controller retries may
	// last before the check calls it final (default 5m).
	VerifyFailureGrace Duration `yaml:"verifyFailureGrace"`
	// VerifyAllMerges verifies every merged pull request that touches an
	// environment's directory, not only the bot's own.
	VerifyAllMerges bool `yaml:"verifyAllMerges"`
	// CommandsOnClosed runs commands on closed issues and pull requests
	// closed without merging; by default they get a short reply only.
	CommandsOnClosed bool `yaml:"commandsOnClosed"`
	// Preview configures the rendered-diff check on pull requests.
	Preview Preview `yaml:"preview"`

	// explicitEnvs is true when the file lists environments, which then
	// become the only ones accepted.
	explicitEnvs bool
	// providerDefaulted: the file names no provider.
	providerDefaulted bool
	// notes: keys read under an old spelling.
	notes []string
}

// Preview configures the check that shows, on every pull request, what
// each environment will get.
type Preview struct {
	// Disabled turns the check off.
	Disabled bool `yaml:"disabled"`
	// Environments to preview (default: every one).
	Environments []string `yaml:"environments"`
	// Fail are the warnings that fail the check; others leave it neutral.
	Fail []string `yaml:"fail"`
	// Forks: preview pull requests from forks too (their files are only
	// rendered, never run).
	Forks bool `yaml:"forks"`
}

// PreviewWarnings are the warnings a preview gives (preview.WarningIDs).
var PreviewWarnings = []string{"immutable-field", "pvc-shrunk", "removed", "privileged", "rbac-widened", "probes-removed",
	"resources-removed", "replicas-zero", "latest-tag", "digest-to-tag", "major-bump", "suspended", "autosync-off", "prune-deletes", "applier-moved"}

// Access says who may run commands.
type Access struct {
	// MinPermission is the least repository permission a commenter needs.
	MinPermission string `yaml:"minPermission"`
	// Users and Teams ("org/team-slug"), when set, further restrict commands
	// to these people.
	Users []string `yaml:"users"`
	Teams []string `yaml:"teams"`
}

// Layout says where an application's files go. Templates take {app} and
// {env}; the defaults follow the monorepo layout of apps/base,
// apps/overlays/<env> and clusters/<env>.
type Layout struct {
	Base    string `yaml:"base"`    // Kustomize base of an app
	Overlay string `yaml:"overlay"` // its overlay for one environment
	Chart   string `yaml:"chart"`   // Helm chart of an app
	// ApplicationSet: where an Argo CD ApplicationSet of several
	// environments goes; {env} is the first environment named.
	ApplicationSet string `yaml:"applicationSet"`
}

// Default layout.
const (
	DefaultBaseLayout    = "apps/base/{app}"
	DefaultOverlayLayout = "apps/overlays/{env}/{app}"
	DefaultChartLayout   = "charts/{app}"
	DefaultAppSetLayout  = "clusters/{env}/{app}-appset.yaml"
)

// Path fills a layout template and checks the result is a safe repository path.
func (l Layout) Path(template, app, env string) (string, error) {
	p := strings.NewReplacer("{app}", app, "{env}", env).Replace(template)
	if strings.ContainsAny(p, "{}") {
		return "", fmt.Errorf("layout %q: unknown placeholder (use {app} and {env})", template)
	}
	return forge.CleanPath(p)
}

func (l *Layout) complete() error {
	for _, f := range []struct {
		v   *string
		def string
		key string
	}{{&l.Base, DefaultBaseLayout, "base"}, {&l.Overlay, DefaultOverlayLayout, "overlay"}, {&l.Chart, DefaultChartLayout, "chart"}, {&l.ApplicationSet, DefaultAppSetLayout, "applicationSet"}} {
		if *f.v == "" {
			*f.v = f.def
		}
		if _, err := l.Path(*f.v, "app", "env"); err != nil {
			return bad("layout."+f.key, "%v", err)
		}
	}
	return nil
}

// Environment is one deployment target.
type Environment struct {
	Name    string `yaml:"name"`
	Dir     string `yaml:"dir"`
	Cluster string `yaml:"cluster"`
	Flux    struct {
		Namespace string `yaml:"namespace"`
	} `yaml:"flux"`
	ArgoCD struct {
		Namespace         string `yaml:"namespace"`
		Project           string `yaml:"project"`
		DestinationServer string `yaml:"destinationServer"`
		DestinationName   string `yaml:"destinationName"`
	} `yaml:"argocd"`
}

// Duration reads "10m" style durations.
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	d.Duration = v
	return nil
}

// Defaults, used for anything the file does not set (and all of it when
// there is no file).
const (
	DefaultProvider      = "flux"
	DefaultBranchPrefix  = "gitops-bot/"
	DefaultMinPermission = "write"
	DefaultVerifyTimeout = 10 * time.Minute
	DefaultFluxNamespace = "flux-system"
	DefaultArgoNamespace = "argocd"
	DefaultArgoProject   = "default"
	DefaultEnvDirPattern = "clusters/%s"
)

// Error is a config file the bot could not accept; it names the problem.
type Error struct{ Msg string }

func (e *Error) Error() string { return Path + ": " + e.Msg }

// Load reads the config at ref. A missing file gives the defaults; a
// file that cannot be read is an error; an invalid one a *Error.
func Load(ctx context.Context, f forge.Reader, r forge.Repo, ref string) (*Config, error) {
	b, err := f.ReadFile(ctx, r, ref, Path)
	if errors.Is(err, forge.ErrNotFound) {
		c := &Config{}
		return c, c.complete()
	}
	var big *forge.TooLarge
	if errors.As(err, &big) || err == nil && len(b) > MaxBytes {
		size := int64(len(b))
		if big != nil {
			size = big.Size
		}
		return nil, &Error{Msg: fmt.Sprintf("%s is %d bytes; a repository config may be at most %d", Path, size, MaxBytes)}
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", Path, err)
	}
	return Parse(b)
}

// Parse parses and checks a config file. Its errors give the line and
// the key, and "did you mean" for a slip; an empty file is all defaults.
func Parse(b []byte) (*Config, error) {
	c := &Config{}
	file, err := yamlconf.Decode(b, c)
	if err != nil {
		return nil, &Error{Msg: err.Error()}
	}
	if err := c.complete(); err != nil {
		return nil, &Error{Msg: file.Locate(err).Error()}
	}
	c.notes = file.Aliases
	return c, nil
}

// Notes are the keys the file spells the old way, which are still read.
func (c *Config) Notes() []string { return c.notes }

// bad is an error about the value of key.
func bad(key, format string, args ...any) error {
	return &yamlconf.Error{Key: key, Msg: fmt.Sprintf(format, args...)}
}

func (c *Config) complete() error {
	if c.Provider == "" {
		c.Provider = DefaultProvider
		c.providerDefaulted = true
	}
	if c.Provider != "flux" && c.Provider != "argocd" {
		return bad("provider", "`%s` is not a provider; want flux or argocd.%s", c.Provider, suggest.DidYouMean(c.Provider, []string{"flux", "argocd"}, func(s string) string { return "`" + s + "`" }))
	}
	if c.BranchPrefix == "" {
		c.BranchPrefix = DefaultBranchPrefix
	}
	if err := checkBranchPrefix(c.BranchPrefix); err != nil {
		return bad("branchPrefix", "%v", err)
	}
	if c.Access.MinPermission == "" {
		c.Access.MinPermission = DefaultMinPermission
	}
	if _, err := forge.ParsePermission(c.Access.MinPermission); err != nil {
		return bad("access.minPermission", "%v", err)
	}
	for i, t := range c.Access.Teams {
		if o, s, ok := strings.Cut(t, "/"); !ok || o == "" || s == "" {
			return bad(fmt.Sprintf("access.teams[%d]", i), "%q is not org/team-slug", t)
		}
	}
	if err := c.Layout.complete(); err != nil {
		return err
	}
	if c.VerifyTimeout.Duration == 0 {
		c.VerifyTimeout.Duration = DefaultVerifyTimeout
	}
	for i, id := range c.Preview.Fail {
		if !slices.Contains(PreviewWarnings, id) {
			return bad(fmt.Sprintf("preview.fail[%d]", i), "`%s` is not a warning of the preview; want one of %s.%s", id, strings.Join(PreviewWarnings, ", "),
				suggest.DidYouMean(id, PreviewWarnings, func(s string) string { return "`" + s + "`" }))
		}
	}
	c.explicitEnvs = len(c.Environments) > 0
	seen := map[string]bool{}
	for i := range c.Environments {
		e := &c.Environments[i]
		key := fmt.Sprintf("environments[%d]", i)
		if err := checkEnvName(e.Name); err != nil {
			return bad(key+".name", "%v", err)
		}
		if seen[e.Name] {
			return bad(key+".name", "%q is listed twice", e.Name)
		}
		seen[e.Name] = true
		if err := e.complete(); err != nil {
			return bad(key, "(%s) %v", e.Name, err)
		}
	}
	if c.explicitEnvs {
		var names []string
		for _, e := range c.Environments {
			names = append(names, e.Name)
		}
		for i, n := range c.Preview.Environments {
			if !seen[n] {
				return bad(fmt.Sprintf("preview.environments[%d]", i), "`%s` is not an environment of this file.%s", n,
					suggest.DidYouMean(n, names, func(s string) string { return "`" + s + "`" }))
			}
		}
	}
	return nil
}

func (e *Environment) complete() error {
	if e.Dir == "" {
		e.Dir = fmt.Sprintf(DefaultEnvDirPattern, e.Name)
	}
	d, err := forge.CleanDir(e.Dir)
	if err != nil {
		return fmt.Errorf("dir: %v", err)
	}
	e.Dir = d
	if e.Flux.Namespace == "" {
		e.Flux.Namespace = DefaultFluxNamespace
	}
	if e.ArgoCD.Namespace == "" {
		e.ArgoCD.Namespace = DefaultArgoNamespace
	}
	if e.ArgoCD.Project == "" {
		e.ArgoCD.Project = DefaultArgoProject
	}
	for _, ns := range []string{e.Flux.Namespace, e.ArgoCD.Namespace} {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return fmt.Errorf("namespace %q: %s", ns, strings.Join(errs, "; "))
		}
	}
	return nil
}

// Environment finds an environment by name. Without an environments list,
// any well-formed name is accepted and lives in clusters/<name>.
func (c *Config) Environment(name string) (Environment, error) {
	if err := checkEnvName(name); err != nil {
		return Environment{}, err
	}
	for _, e := range c.Environments {
		if e.Name == name {
			return e, nil
		}
	}
	if c.explicitEnvs {
		names := make([]string, 0, len(c.Environments))
		for _, e := range c.Environments {
			names = append(names, e.Name)
		}
		return Environment{}, fmt.Errorf("unknown environment %q (this repository has: %s).%s", name, strings.Join(names, ", "),
			suggest.DidYouMean(name, names, strconv.Quote))
	}
	e := Environment{Name: name}
	return e, e.complete()
}

// inCluster is the destination Argo CD gives an Application without one.
const inCluster = "https://kubernetes.default.svc"

// destination names the cluster an Argo CD environment deploys to.
func (e Environment) destination() string {
	switch {
	case e.ArgoCD.DestinationName != "" && e.ArgoCD.DestinationName != "in-cluster":
		return "name:" + e.ArgoCD.DestinationName
	case e.ArgoCD.DestinationServer != "":
		return e.ArgoCD.DestinationServer
	}
	return inCluster
}

// SharesCluster reports whether Argo CD environment e deploys to the same
// cluster as another of envs or of the listed environments, as every
// environment on the default destination does. Two environments there
// must not put an application in the same namespace, or two Applications
// own one Deployment.
func (c *Config) SharesCluster(e Environment, envs []Environment) bool {
	for _, o := range append(append([]Environment{}, envs...), c.Environments...) {
		if o.Name != e.Name && o.destination() == e.destination() {
			return true
		}
	}
	return false
}

// ForProvider is the environment as a provider sees it.
func (e Environment) ForProvider(provider string) providers.Environment {
	pe := providers.Environment{Name: e.Name, Dir: e.Dir, Namespace: e.Flux.Namespace}
	if provider == "argocd" {
		pe.Namespace = e.ArgoCD.Namespace
		pe.Project = e.ArgoCD.Project
		pe.DestinationServer = e.ArgoCD.DestinationServer
		pe.DestinationName = e.ArgoCD.DestinationName
	}
	return pe
}

func checkEnvName(name string) error {
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return fmt.Errorf("environment name %q: %s", name, strings.Join(errs, "; "))
	}
	return nil
}

func checkBranchPrefix(p string) error {
	clean := path.Clean(p)
	if strings.ContainsAny(p, " ~^:?*[\\") || strings.Contains(p, "..") || strings.HasPrefix(p, "/") || clean == "." {
		return fmt.Errorf("branchPrefix %q is not a valid branch name prefix", p)
	}
	return nil
}

// ProviderDefaulted reports whether the file names no provider, so that
// what the repository holds may decide.
func (c *Config) ProviderDefaulted() bool { return c.providerDefaulted }

// ListsEnvironments reports whether the file names the environments (and
// their directories), rather than the defaults standing in.
func (c *Config) ListsEnvironments() bool { return c.explicitEnvs }

// EnvironmentFiles is what of a merge's files concerns environment name:
// its own files and the shared ones (a base, a chart), not those inside
// another environment's directory, whose appliers a verification of this
// environment must not wait on.
func (c *Config) EnvironmentFiles(name string, files []string) []string {
	own, _ := c.Environment(name)
	var out []string
	for _, f := range files {
		if own.Dir != "" && providers.PathContains(own.Dir, f) || !c.inOtherEnvironment(name, f) {
			out = append(out, f)
		}
	}
	return out
}

func (c *Config) inOtherEnvironment(name, f string) bool {
	for _, other := range c.TouchedEnvironments([]string{f}) {
		if other != name {
			return true
		}
	}
	return false
}

// TouchedEnvironments: the environments whose directory holds a changed
// file. Without an environments list, clusters/<name>/ names one.
func (c *Config) TouchedEnvironments(files []string) []string {
	seen := map[string]bool{}
	for _, f := range files {
		if c.explicitEnvs {
			for _, e := range c.Environments {
				if providers.PathContains(e.Dir, f) {
					seen[e.Name] = true
				}
			}
			continue
		}
		if rest, ok := strings.CutPrefix(f, "clusters/"); ok {
			if name, _, nested := strings.Cut(rest, "/"); nested && checkEnvName(name) == nil {
				seen[name] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for e := range seen {
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}
