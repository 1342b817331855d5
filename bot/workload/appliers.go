package workload

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/yamledit"
)

// Applier is a Flux Kustomization or an Argo CD Application of this
// repository, and the directory it applies.
type Applier struct {
	Kind, Name, Dir, File string
}

// Appliers lists the Flux Kustomizations and Argo CD Applications the
// repository holds, with the directories they apply.
func (w *Repo) Appliers(ctx context.Context) ([]Applier, error) {
	if w.Files.AlongPaths {
		return nil, nil // a scan of the whole repository through the API: not worth it
	}
	files, err := w.Files.YAMLUnder(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []Applier
	for _, f := range files {
		objs, err := w.Files.Objects(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			isFlux := o.Kind == "Kustomization" && strings.HasPrefix(o.APIVersion, "kustomize.toolkit.fluxcd.io/")
			isArgo := o.Kind == "Application" && strings.HasPrefix(o.APIVersion, "argoproj.io/")
			if (isFlux || isArgo) && o.Path != "" {
				out = append(out, Applier{Kind: o.Kind, Name: o.Name, Dir: path.Clean(strings.TrimPrefix(o.Path, "./")), File: f})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Dir < out[j].Dir })
	return out, nil
}

// CheckTarget refuses to write an environment's objects into a directory
// nothing would apply: with no environments in the repository config, the
// default directory must exist. The reply says what the repository holds
// and the config that would make it work.
func (w *Repo) CheckTarget(ctx context.Context, env config.Environment) error {
	if w.Config.ListsEnvironments() {
		return nil
	}
	if p, err := w.Files.Existing(ctx, env.Dir); err != nil || p != "" {
		return err
	}
	appliers, err := w.Appliers(ctx)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "this repository has no %s, where environment %s would go by default, and nothing here applies it, so I would write files no cluster applies.", md.Code(env.Dir), md.Code(env.Name))
	if len(appliers) > 0 {
		b.WriteString(" What applies directories here:\n\n")
		for i, a := range appliers {
			if i == 10 {
				fmt.Fprintf(&b, "- and %d more\n", len(appliers)-10)
				break
			}
			fmt.Fprintf(&b, "- %s %s (%s) applies %s\n", a.Kind, md.Code(a.Name), md.Code(a.File), md.Code(a.Dir))
		}
	}
	dir := "DIRECTORY"
	if len(appliers) > 0 {
		dir = appliers[0].Dir
	}
	fmt.Fprintf(&b, "\nSay where %s's objects go in `%s`, for example:\n\n%s", md.Code(env.Name), config.Path,
		md.CodeBlock("yaml", fmt.Sprintf("environments:\n  - name: %s\n    dir: %s   # a directory that a Flux Kustomization or an Argo CD Application applies", env.Name, dir)))
	return errs.Invalid("%s", b.String())
}

// CheckAPIVersions refuses objects of a newer API version than the
// repository's own objects of the same kind use: a cluster whose
// controllers serve only the older version would reject them. The reply
// names the version found.
func (w *Repo) CheckAPIVersions(ctx context.Context, dir string, generated []providers.Object) error {
	have, err := w.APIVersions(ctx, dir)
	if err != nil {
		return err
	}
	for _, g := range generated {
		ref := g.Ref()
		found, ok := have[ref.Kind]
		if !ok || found == ref.APIVersion || group(found) != group(ref.APIVersion) {
			continue
		}
		return errs.Invalid("the %s objects in %s are %s, and I write %s, which a cluster with controllers of that age does not serve; upgrade them (Flux's `flux migrate` does) or write this one by hand",
			ref.Kind, md.Code(dir), md.Code(found), md.Code(ref.APIVersion))
	}
	return nil
}

// APIVersions are the API versions the objects under dir use, by kind.
func (w *Repo) APIVersions(ctx context.Context, dir string) (map[string]string, error) {
	files, err := w.Files.YAMLUnder(ctx, dir)
	if err != nil {
		return nil, err
	}
	have := map[string]string{} // kind -> an apiVersion the repository uses
	for _, f := range files {
		objs, err := w.Files.Objects(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			have[o.Kind] = o.APIVersion
		}
	}
	return have, nil
}

func group(apiVersion string) string {
	g, _, _ := strings.Cut(apiVersion, "/")
	return g
}

// appSet is what the bot reads of an Argo CD ApplicationSet: its git
// directory generators, also inside matrix and merge generators.
type appSet struct {
	Spec struct {
		Generators []generator `yaml:"generators"`
	} `yaml:"spec"`
}

type generator struct {
	Git *struct {
		RepoURL     string `yaml:"repoURL"`
		Directories []struct {
			Path    string `yaml:"path"`
			Exclude bool   `yaml:"exclude"`
		} `yaml:"directories"`
	} `yaml:"git"`
	Matrix *struct {
		Generators []generator `yaml:"generators"`
	} `yaml:"matrix"`
	Merge *struct {
		Generators []generator `yaml:"generators"`
	} `yaml:"merge"`
}

// GeneratedBy returns the ApplicationSet (name and file) whose git
// directory generator will make an Application of dir, this repository's
// directory, or "" when none will.
func (w *Repo) GeneratedBy(ctx context.Context, dir string) (string, string, error) {
	if w.Files.AlongPaths {
		return "", "", nil
	}
	files, err := w.Files.YAMLUnder(ctx, "")
	if err != nil {
		return "", "", err
	}
	for _, f := range files {
		objs, err := w.Files.Objects(ctx, f)
		if err != nil {
			return "", "", err
		}
		for _, o := range objs {
			if o.Kind != "ApplicationSet" {
				continue
			}
			src, err := w.Files.Read(ctx, f)
			if err != nil {
				return "", "", err
			}
			docs, err := yamledit.Docs(src)
			if err != nil || o.Doc >= len(docs) {
				continue
			}
			var set appSet
			if docs[o.Doc].Decode(&set) != nil {
				continue
			}
			if w.generates(set.Spec.Generators, dir) {
				return o.Name, f, nil
			}
		}
	}
	return "", "", nil
}

func (w *Repo) generates(gens []generator, dir string) bool {
	for _, g := range gens {
		if g.Matrix != nil && w.generates(g.Matrix.Generators, dir) || g.Merge != nil && w.generates(g.Merge.Generators, dir) {
			return true
		}
		if g.Git == nil || !providers.SameRepo(g.Git.RepoURL, w.CloneURL) {
			continue
		}
		matched := false
		for _, d := range g.Git.Directories {
			ok, _ := path.Match(strings.TrimPrefix(d.Path, "./"), dir)
			if ok && d.Exclude {
				matched = false
				break
			}
			matched = matched || ok
		}
		if matched {
			return true
		}
	}
	return false
}

// DetectProvider says which tool applies the environments' directories,
// from the objects they hold: Argo CD when they have Argo CD objects and no
// Flux ones, Flux the other way round; "" when nothing tells.
func (w *Repo) DetectProvider(ctx context.Context, dirs ...string) (string, error) {
	var files []string
	for _, d := range dirs {
		fs, err := w.Files.YAMLUnder(ctx, d)
		if err != nil {
			return "", err
		}
		files = append(files, fs...)
	}
	var flux, argo bool
	for _, f := range files {
		objs, err := w.Files.Objects(ctx, f)
		if err != nil {
			return "", err
		}
		for _, o := range objs {
			switch group(o.APIVersion) {
			case "kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io", "source.toolkit.fluxcd.io":
				flux = true
			case "argoproj.io":
				argo = true
			}
		}
	}
	switch {
	case argo && !flux:
		return "argocd", nil
	case flux && !argo:
		return "flux", nil
	}
	return "", nil
}
