// Package workload finds where an application's settings live in an
// environment and changes them there: set the image, scale, set resources,
// read and promote versions. Slash commands and alert rules both call it.
// Edits keep every byte of a file outside the value changed.
package workload

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/logctx"
	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/bot/snapshot"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/kustfile"
	"github.com/gitops-bot/gitops-bot/providers/yamledit"
	"github.com/gitops-bot/gitops-bot/sync/cluster"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Owners finds the GitOps objects that apply a workload in a cluster
// (cluster.Set).
type Owners interface {
	Owners(ctx context.Context, cluster, kind, name string) ([]cluster.Owner, error)
}

// Objects reads a GitOps object from a cluster's informer cache (nil when
// the cluster has none by that name), and the images a Deployment runs:
// /status reports them.
type Objects interface {
	Object(ctx context.Context, cluster string, ref providers.Ref) (*unstructured.Unstructured, error)
	Images(ctx context.Context, cluster, namespace, name string) ([]string, error)
}

// Repo is a repository as the workload engine sees it.
type Repo struct {
	Files    *snapshot.Snapshot
	Config   *config.Config
	Owners   Owners // nil: the repository's layout alone decides
	CloneURL string
	// Redirected: already running in the repository another one pointed
	// to; a workload applied from yet another repository is an error then.
	Redirected bool
	// Charts renders charts kept in Helm repositories, to judge a
	// release's values by what the chart makes; nil: not rendered.
	Charts ChartRenderer

	model *Model // the render model, once a command asked for it
	// nearest are names the render has close to one it did not find.
	nearest []string
}

// ChartRenderer renders a chart of a Helm repository (chartrender.Renderer).
type ChartRenderer interface {
	Render(ctx context.Context, repoURL, name, version, release, namespace string, values map[string]any) ([]map[string]any, error)
}

// Kind is where an application's settings live, by what the repository holds.
type Kind string

const (
	InOverlay     Kind = "overlay"     // a Kustomize overlay: images: and replicas:
	InValues      Kind = "values"      // a chart of this repository: values-<env>.yaml
	InHelmRelease Kind = "helmrelease" // a Flux HelmRelease: spec.values, spec.chart.spec.version
	InApplication Kind = "application" // an Argo CD Application with a Helm source
	InDeployment  Kind = "deployment"  // the Deployment itself
	// InBuild: the object comes from a base the environment's kustomization
	// builds from; the environment's change is a patch in its directory.
	InBuild Kind = "build"
)

// Target is the place an application's settings live in one environment.
type Target struct {
	Kind Kind
	Name string // the object's name (the HelmRelease, Application or Deployment)
	Path string
	Doc  int    // the document in a multi-document file
	Desc string // for replies: "the HelmRelease `web` in `clusters/staging/web.yaml`"
	// field, once an operation found it, is where the value it changes
	// sits in the target (a chart's image tag, its replicas).
	field []yamledit.Step
	// override: an Argo CD parameter override file (.argocd-source-*.yaml).
	override bool
	// built is, for InBuild, the object as the environment builds it.
	built map[string]any
}

// Elsewhere says the workload is applied from another repository.
type Elsewhere struct{ URL, Owner string }

func (e *Elsewhere) Error() string {
	return fmt.Sprintf("applied by %s from %s, not from this repository", e.Owner, e.URL)
}

// Locate finds where app's settings live in env, from the repository,
// narrowed by what the cluster says applies it.
func (w *Repo) Locate(ctx context.Context, app string, env config.Environment) (Target, error) {
	if err := w.CheckTarget(ctx, env); err != nil {
		return Target{}, err // no environment directory, and no config to say where
	}
	l := w.Config.Layout
	var found []Target
	if dir, err := l.Path(l.Overlay, app, env.Name); err == nil {
		if p, _ := w.Files.Existing(ctx, kustfile.In(dir)...); p != "" {
			found = append(found, Target{Kind: InOverlay, Name: app, Path: p, Desc: "the overlay " + md.Code(p)})
		}
	}
	if dir, err := l.Path(l.Chart, app, ""); err == nil {
		if p, _ := w.Files.Existing(ctx, path.Join(dir, "values-"+env.Name+".yaml")); p != "" {
			found = append(found, Target{Kind: InValues, Path: p, Desc: "the chart values " + md.Code(p)})
		}
	}
	roots, err := w.Roots(ctx, env.Dir)
	if err != nil {
		return Target{}, err
	}
	var files []string
	for _, r := range roots {
		fs, err := w.Files.YAMLUnder(ctx, r)
		if err != nil {
			return Target{}, err
		}
		for _, f := range fs {
			if tmpl, err := w.inChartTemplates(ctx, f); err != nil {
				return Target{}, err
			} else if !tmpl {
				files = append(files, f)
			}
		}
	}
	var flux, argo bool
	for _, f := range files {
		objs, err := w.Files.Objects(ctx, f) // indexed by content: a lookup, not a parse
		if err != nil {
			return Target{}, err
		}
		for _, o := range objs {
			switch {
			case o.Kind == "HelmRelease" && (o.Name == app || o.ReleaseName == app):
				flux = true
				found = append(found, Target{Kind: InHelmRelease, Name: o.Name, Path: f, Doc: o.Doc, Desc: fmt.Sprintf("the HelmRelease %s in %s", md.Code(o.Name), md.Code(f))})
			case o.Kind == "Application" && (o.Name == app || o.Name == app+"-"+env.Name) && o.Chart != "":
				argo = true
				found = append(found, Target{Kind: InApplication, Name: o.Name, Path: f, Doc: o.Doc, Desc: fmt.Sprintf("the Application %s in %s", md.Code(o.Name), md.Code(f))})
			case o.Kind == "Application" && (o.Name == app || o.Name == app+"-"+env.Name) && o.Chart == "" && o.Path != "":
				t, ok, err := w.valueFilesTarget(ctx, f, o.Doc, o.Name, o.Path)
				if err != nil {
					return Target{}, err
				}
				if ok {
					argo = true
					found = append(found, t)
				}
			case o.Kind == "Deployment" && o.Name == app:
				found = append(found, Target{Kind: InDeployment, Name: o.Name, Path: f, Doc: o.Doc, Desc: fmt.Sprintf("the Deployment %s in %s", md.Code(o.Name), md.Code(f))})
			}
		}
	}
	found = preferOverlay(found)
	found, err = w.preferValuesFile(ctx, found)
	if err != nil {
		return Target{}, err
	}
	if owned, err := w.ownedPath(ctx, app, env, found); err != nil {
		return Target{}, err
	} else if owned != "" {
		// The cluster says which object applies the workload: keep what lives under its path.
		var kept []Target
		for _, t := range found {
			if providers.PathContains(owned, t.Path) {
				kept = append(kept, t)
			}
		}
		if len(kept) > 0 {
			found = kept
		}
	}
	switch {
	case flux && argo:
		return Target{}, errs.Invalid("%s is managed by both Argo CD and Flux in %s (%s); fix that first", md.Code(app), md.Code(env.Name), descs(found))
	case len(found) > 1:
		return Target{}, errs.Invalid("%s is defined in several places in %s: %s; say which by editing it by hand", md.Code(app), md.Code(env.Name), descs(found))
	case len(found) == 0:
		if t, ok, err := w.fromBuild(ctx, app, roots); err != nil || ok {
			return t, err
		}
		return Target{}, errs.Invalid("no workload %s in environment %s: I looked for its overlay, its chart values and a HelmRelease, Application or Deployment in %s%s", md.Code(app), md.Code(env.Name), md.Code(env.Dir), w.nearestText())
	}
	return found[0], nil
}

// ownedPath asks the environment's cluster which GitOps object applies the
// workload and returns the directory of this repository it applies ("" when
// the cluster cannot tell). A workload applied from another repository, or
// by both tools, is an error that names them.
func (w *Repo) ownedPath(ctx context.Context, app string, env config.Environment, found []Target) (string, error) {
	if w.Owners == nil {
		return "", nil
	}
	owners, err := w.Owners.Owners(ctx, env.Cluster, "Deployment", app)
	var ng *cluster.NotGitOps
	if errors.As(err, &ng) {
		return "", errs.Invalid("%s is not managed by GitOps in %s: %v", md.Code(app), md.Code(env.Name), ng)
	}
	if err != nil || len(owners) == 0 {
		logctx.From(ctx).Info("no owner from the cluster; using the repository's layout", "app", app, "env", env.Name, "err", err)
		return "", nil
	}
	var flux, argo bool
	paths := map[string]bool{}
	var names []string
	for _, o := range owners {
		names = append(names, md.Code(o.Ref.String()))
		if o.Ref.Kind == "Application" {
			argo = true
		} else {
			flux = true
		}
		if o.RepoURL != "" && !providers.SameRepo(o.RepoURL, w.CloneURL) {
			if w.Redirected {
				return "", errs.Invalid("%s in %s is applied by %s from %s, not from this repository: make the change there", md.Code(app), md.Code(env.Name), md.Code(o.Ref.String()), md.Code(o.RepoURL))
			}
			return "", &Elsewhere{URL: o.RepoURL, Owner: o.Ref.String()}
		}
		paths[o.Path] = true
	}
	if len(paths) > 1 {
		// Environments that share a cluster each apply their own copy (in
		// namespaces of their own): keep the objects that apply one of
		// this environment's candidates.
		mine := map[string]bool{}
		for p := range paths {
			for _, t := range found {
				if providers.PathContains(p, t.Path) {
					mine[p] = true
				}
			}
		}
		if len(mine) > 0 {
			paths = mine
		}
	}
	switch {
	case flux && argo:
		return "", errs.Invalid("%s in %s is managed by both Argo CD and Flux (%s); fix that first", md.Code(app), md.Code(env.Name), strings.Join(names, ", "))
	case len(paths) > 1:
		return "", errs.Invalid("%s in %s is applied by several objects (%s); say which by editing it by hand", md.Code(app), md.Code(env.Name), strings.Join(names, ", "))
	}
	for p := range paths {
		return p, nil
	}
	return "", nil
}

// inChartTemplates reports whether file is a template of a chart (its
// directory is templates/ beside a Chart.yaml): a template, not a manifest.
func (w *Repo) inChartTemplates(ctx context.Context, file string) (bool, error) {
	dir := path.Dir(file)
	for d := dir; d != "." && d != "/"; d = path.Dir(d) {
		if path.Base(d) == "templates" {
			p, err := w.Files.Existing(ctx, path.Join(path.Dir(d), "Chart.yaml"))
			return p != "", err
		}
	}
	return false, nil
}

// valueFilesTarget: an Argo CD Application of a chart in this repository
// merges its helm.valueFiles in order, the last one winning, so the
// environment's settings go into the last of them.
func (w *Repo) valueFilesTarget(ctx context.Context, file string, doc int, name, chartPath string) (Target, bool, error) {
	d, err := w.doc(ctx, Target{Path: file, Doc: doc})
	if err != nil {
		return Target{}, false, err
	}
	var app struct {
		Spec struct {
			Source struct {
				Helm struct {
					ValueFiles []string `yaml:"valueFiles"`
				} `yaml:"helm"`
			} `yaml:"source"`
		} `yaml:"spec"`
	}
	if d.Decode(&app) != nil {
		return Target{}, false, nil
	}
	files := app.Spec.Source.Helm.ValueFiles
	for i := len(files) - 1; i >= 0; i-- {
		p := path.Clean(path.Join(strings.TrimPrefix(chartPath, "./"), files[i]))
		if strings.HasPrefix(p, "..") {
			continue
		}
		if found, err := w.Files.Existing(ctx, p); err != nil {
			return Target{}, false, err
		} else if found != "" {
			return Target{Kind: InValues, Name: name, Path: p,
				Desc: fmt.Sprintf("the values file %s, the last of the Application %s's valueFiles", md.Code(p), md.Code(name))}, true, nil
		}
	}
	return Target{}, false, nil
}

// preferOverlay: a Deployment in an overlay's directory is one of its
// patches (as /resources writes them); the overlay is the application.
func preferOverlay(found []Target) []Target {
	var overlays []string
	for _, t := range found {
		if t.Kind == InOverlay {
			overlays = append(overlays, path.Dir(t.Path)+"/")
		}
	}
	if len(overlays) == 0 {
		return found
	}
	var out []Target
	for _, t := range found {
		inside := false
		for _, o := range overlays {
			inside = inside || t.Kind == InDeployment && strings.HasPrefix(t.Path, o)
		}
		if !inside {
			out = append(out, t)
		}
	}
	return out
}

// preferValuesFile: a HelmRelease or Application that takes the
// environment's values file of this repository's chart sets nothing
// itself; the values file is where the environment's settings live.
func (w *Repo) preferValuesFile(ctx context.Context, found []Target) ([]Target, error) {
	var values *Target
	for i := range found {
		if found[i].Kind == InValues {
			values = &found[i]
		}
	}
	if values == nil {
		return found, nil
	}
	out := []Target{*values}
	for _, t := range found {
		if t.Kind != InHelmRelease && t.Kind != InApplication {
			if t.Kind != InValues {
				out = append(out, t)
			}
			continue
		}
		b, err := w.Files.Read(ctx, t.Path)
		if err != nil {
			return nil, err
		}
		if !strings.Contains(string(b), path.Base(values.Path)) {
			out = append(out, t) // sets values of its own: still a second place
		}
	}
	return out, nil
}

func descs(ts []Target) string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Desc)
	}
	return strings.Join(out, ", ")
}
