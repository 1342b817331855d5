package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/model"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/local"
	"github.com/gitops-bot/gitops-bot/providers/chartrender"
	"github.com/gitops-bot/gitops-bot/render"
)

type renderOptions struct {
	repo, ref, out string
	charts         string
	envs, paths    []string
	offline        bool
	chartTimeout   time.Duration
}

func renderCmd() *cobra.Command {
	o := &renderOptions{}
	cmd := &cobra.Command{
		Use:   "render [flags]",
		Short: "Print what each environment's controllers will apply",
		Long: `Renders each environment of a repository as Flux and Argo CD render it: the
environment's directory, every Kustomization, HelmRelease, Application and
ApplicationSet it applies, followed to the objects they apply. This is what
the bot sees when it resolves and checks a command.

Environments are those of .gitops-bot.yaml, or one per clusters/* directory;
--env picks some, --path renders a directory as an environment named after
its last element.

Without --out, a YAML stream, each document preceded by
"# env: ENV applier: KIND/NAMESPACE/NAME source: PATH". With --out DIR, one
file per object: DIR/ENV/APPLIER/KIND_NAMESPACE_NAME.yaml, where APPLIER is
the Kind_namespace_name of the Kustomization, HelmRelease or Application that
applies it (_root for what the environment's directory applies itself). An
applier that cannot be rendered writes DIR/ENV/APPLIER/ERROR and makes the
exit status 1.`,
		Example: `  gitops-bot render --repo ./fleet --env staging
  gitops-bot render --path clusters/production --out /tmp/rendered --offline`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRender(cmd.Context(), cmd.OutOrStdout(), o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.repo, "repo", ".", "repository directory")
	f.StringVar(&o.ref, "ref", "", "commit, branch or tag to render (default: the files on disk)")
	f.StringArrayVar(&o.envs, "env", nil, "environment to render (repeatable; default: all)")
	f.StringArrayVar(&o.paths, "path", nil, "directory to render as an environment (repeatable)")
	f.StringVar(&o.out, "out", "", "write one file per object under this directory")
	chartFlags(f, &o.offline, &o.charts, &o.chartTimeout)
	return cmd
}

// chartFlags are how render and preview get charts from outside the
// repository.
func chartFlags(f *pflag.FlagSet, offline *bool, charts *string, timeout *time.Duration) {
	f.BoolVar(offline, "offline", false, "fetch no chart from outside the repository")
	f.StringVar(charts, "charts", "", "directory of unpacked charts (one per name) to use instead of fetching them")
	f.DurationVar(timeout, "chart-timeout", 30*time.Second, "time limit of one chart download")
}

// errRenderFailed: some applier could not be rendered (exit status 1).
var errRenderFailed = errors.New("some appliers could not be rendered")

func runRender(ctx context.Context, w io.Writer, o *renderOptions) error {
	src, repoURL, err := renderSource(o.repo, o.ref)
	if err != nil {
		return err
	}
	tree := render.NewTree(ctx, src, "")
	cfg, err := treeConfig(tree)
	if err != nil {
		return err
	}
	specs, err := pickSpecs(tree, cfg, o.envs, o.paths)
	if err != nil {
		return err
	}
	charts := chartsFor(o.charts, o.offline, o.chartTimeout)
	r := model.New(repoURL, charts)
	failed := false
	for _, s := range specs {
		env, err := r.Env(ctx, tree, s)
		if err != nil {
			return fmt.Errorf("environment %s: %w", s.Name, err)
		}
		if len(env.Failed()) > 0 {
			failed = true
		}
		if o.out != "" {
			err = writeRendered(o.out, env)
		} else {
			err = printRendered(w, env)
		}
		if err != nil {
			return err
		}
	}
	if failed {
		return errRenderFailed
	}
	return nil
}

// treeConfig is the repository's .gitops-bot.yaml, or the defaults.
func treeConfig(tree *render.Tree) (*config.Config, error) {
	if !tree.Exists(config.Path) {
		return config.Parse(nil)
	}
	b, err := tree.Read(config.Path)
	if err != nil {
		return nil, err
	}
	return config.Parse(b)
}

// pickSpecs are the environments --env and --path name (default: every
// environment of the configuration).
func pickSpecs(tree *render.Tree, cfg *config.Config, envs, paths []string) ([]render.Spec, error) {
	var specs []render.Spec
	for _, p := range paths {
		p = strings.Trim(path.Clean("/"+filepath.ToSlash(p)), "/")
		contents := map[string][]byte{}
		for _, f := range tree.Under(p) {
			if ext := path.Ext(f); ext == ".yaml" || ext == ".yml" {
				if c, err := tree.Read(f); err == nil {
					contents[f] = c
				}
			}
		}
		if len(tree.Under(p)) == 0 {
			return nil, fmt.Errorf("--path %s: no files there", p)
		}
		specs = append(specs, model.PathSpec(p, contents))
	}
	if len(paths) == 0 || len(envs) > 0 {
		all := model.Specs(cfg, tree.Under(""))
		if len(envs) == 0 {
			specs = append(specs, all...)
		}
		for _, name := range envs {
			found := false
			for _, s := range all {
				if s.Name == name {
					specs, found = append(specs, s), true
				}
			}
			if !found {
				return nil, fmt.Errorf("--env %s: no such environment", name)
			}
		}
	}
	if len(specs) == 0 {
		return nil, errors.New("no environment to render: give --path DIR, or list environments in .gitops-bot.yaml")
	}
	return specs, nil
}

// chartsFor fetches charts from outside the repository, or from a
// directory, or not at all.
func chartsFor(dir string, offline bool, timeout time.Duration) render.Charts {
	switch {
	case dir != "":
		return render.ChartDir(dir)
	case !offline:
		return chartrender.New(http.DefaultClient, timeout)
	}
	return nil
}

// renderSource is the repository as the render reads it: the work tree,
// or a commit of it.
func renderSource(repo, ref string) (render.Source, string, error) {
	repoURL := ""
	var f *local.Forge
	if _, err := os.Stat(filepath.Join(repo, ".git")); err == nil {
		if f, err = local.Open(repo); err != nil {
			return nil, "", err
		}
		if r, err := f.Repo(filepath.Base(repo)); err == nil {
			repoURL = r.CloneURL
		}
	}
	if ref == "" {
		if _, err := os.Stat(repo); err != nil {
			return nil, "", err
		}
		return render.Dir(repo), repoURL, nil
	}
	if f == nil {
		return nil, "", fmt.Errorf("a ref needs --repo to be a git repository")
	}
	return refSource{f: f, ref: ref}, repoURL, nil
}

// refSource reads one commit of a local repository.
type refSource struct {
	f   *local.Forge
	ref string
}

func (s refSource) Under(ctx context.Context, dir string) ([]string, error) {
	return s.f.ListFiles(ctx, forge.Repo{}, s.ref, dir)
}

func (s refSource) Read(ctx context.Context, p string) ([]byte, error) {
	return s.f.ReadFile(ctx, forge.Repo{}, s.ref, p)
}

func header(env *render.Env, o render.Object) string {
	a := env.Appliers[o.Applier]
	applier := "_root"
	if a.Ref != render.Root {
		applier = a.Ref.Kind + "/" + a.Ref.Namespace + "/" + a.Ref.Name
	}
	src := o.File
	if src == "" {
		src = a.Source
	}
	return fmt.Sprintf("# env: %s applier: %s source: %s", env.Name, applier, src)
}

func printRendered(w io.Writer, env *render.Env) error {
	for _, o := range env.Objects {
		b, err := sigsyaml.Marshal(o.Obj)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "---\n%s\n%s", header(env, o), b); err != nil {
			return err
		}
	}
	for _, a := range env.Failed() {
		fmt.Fprintf(w, "---\n# env: %s applier: %s/%s/%s ERROR: %v\n", env.Name, a.Ref.Kind, a.Ref.Namespace, a.Ref.Name, a.Err)
	}
	return nil
}

// safeName keeps a path element from leaving its directory.
func safeName(s string) string {
	s = strings.NewReplacer("/", "_", "\\", "_", "\x00", "_").Replace(s)
	if s == "." || s == ".." {
		s = "_" + s
	}
	return s
}

func applierDir(a *render.Applier) string {
	if a.Ref == render.Root {
		return "_root"
	}
	return safeName(a.Ref.Dir())
}

func writeRendered(out string, env *render.Env) error {
	for _, o := range env.Objects {
		dir := filepath.Join(out, safeName(env.Name), applierDir(env.Appliers[o.Applier]))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		b, err := sigsyaml.Marshal(o.Obj)
		if err != nil {
			return err
		}
		name := safeName(o.Kind()+"_"+o.Namespace()+"_"+o.Name()) + ".yaml"
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	for _, a := range env.Failed() {
		dir := filepath.Join(out, safeName(env.Name), applierDir(a))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "ERROR"), []byte(a.Err.Error()+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}
