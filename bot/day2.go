package bot

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/preflight"
	"github.com/gitops-bot/gitops-bot/providers/yamledit"
	"github.com/gitops-bot/gitops-bot/sync"
)

// Day-2 changes edit what already runs: they find where an application's
// settings live in an environment and change the smallest thing there,
// keeping the file as a person wrote it.

// Where an application's settings live, by what the repository holds.
const (
	inOverlay     = "overlay"     // a Kustomize overlay: images: and replicas:
	inValues      = "values"      // a chart of this repository: values-<env>.yaml
	inHelmRelease = "helmrelease" // a Flux HelmRelease: spec.values, spec.chart.spec.version
	inApplication = "application" // an Argo CD Application with a Helm source
	inDeployment  = "deployment"  // the Deployment itself
)

type target struct {
	kind string
	path string
	doc  int    // the document in a multi-document file
	desc string // for replies: "the HelmRelease web in clusters/staging/web.yaml"
}

// locate finds where app's settings live in env, from the repository.
func (x *execution) locate(ctx context.Context, app string, env Environment) (target, error) {
	l := x.config.Layout
	var found []target
	if dir, err := l.Path(l.Overlay, app, env.Name); err == nil {
		if p, _ := x.existing(ctx, path.Join(dir, "kustomization.yaml")); p != "" {
			found = append(found, target{kind: inOverlay, path: p, desc: "the overlay " + code(p)})
		}
	}
	if dir, err := l.Path(l.Chart, app, ""); err == nil {
		if p, _ := x.existing(ctx, path.Join(dir, "values-"+env.Name+".yaml")); p != "" {
			found = append(found, target{kind: inValues, path: p, desc: "the chart values " + code(p)})
		}
	}
	files, err := x.repoFiles(ctx)
	if err != nil {
		return target{}, err
	}
	var flux, argo bool
	for _, f := range files {
		if !strings.HasPrefix(f, env.Dir+"/") || !(strings.HasSuffix(f, ".yaml") || strings.HasSuffix(f, ".yml")) {
			continue
		}
		b, err := x.forge.ReadFile(ctx, x.event.Repo, x.event.Repo.DefaultBranch, f)
		if err != nil {
			return target{}, err
		}
		docs, err := yamledit.Docs(b)
		if err != nil {
			continue // a broken file is not this app's; preflight reports it where it matters
		}
		for i, d := range docs {
			kind, name := scalar(d, at("kind")), scalar(d, at("metadata.name"))
			switch {
			case kind == "HelmRelease" && (name == app || scalar(d, at("spec.releaseName")) == app):
				flux = true
				found = append(found, target{kind: inHelmRelease, path: f, doc: i, desc: fmt.Sprintf("the HelmRelease %s in %s", code(name), code(f))})
			case kind == "Application" && (name == app || name == app+"-"+env.Name) && yamledit.Find(d, at("spec.source.chart")) != nil:
				argo = true
				found = append(found, target{kind: inApplication, path: f, doc: i, desc: fmt.Sprintf("the Application %s in %s", code(name), code(f))})
			case kind == "Deployment" && name == app:
				found = append(found, target{kind: inDeployment, path: f, doc: i, desc: fmt.Sprintf("the Deployment %s in %s", code(name), code(f))})
			}
		}
	}
	if owned, err := x.ownedPath(ctx, app, env); err != nil {
		return target{}, err
	} else if owned != "" {
		// The cluster says which object applies the workload: keep what lives under its path.
		var kept []target
		for _, t := range found {
			if providers.PathContains(owned, t.path) {
				kept = append(kept, t)
			}
		}
		if len(kept) > 0 {
			found = kept
		}
	}
	switch {
	case flux && argo:
		return target{}, fmt.Errorf("%s is managed by both Argo CD and Flux in %s (%s); fix that first", code(app), code(env.Name), descs(found))
	case len(found) > 1:
		return target{}, fmt.Errorf("%s is defined in several places in %s: %s; say which by editing it by hand", code(app), code(env.Name), descs(found))
	case len(found) == 0:
		return target{}, fmt.Errorf("no workload %s in environment %s: I looked for its overlay, its chart values and a HelmRelease, Application or Deployment in %s", code(app), code(env.Name), code(env.Dir))
	}
	return found[0], nil
}

// ownedPath asks the environment's cluster which GitOps object applies the
// workload and returns the directory of this repository it applies ("" when
// the cluster cannot tell). A workload applied from another repository, or
// by both tools, is an error that names them.
func (x *execution) ownedPath(ctx context.Context, app string, env Environment) (string, error) {
	if x.bot.Owners == nil {
		return "", nil
	}
	owners, err := x.bot.Owners.Owners(ctx, env.Cluster, "Deployment", app)
	var ng *sync.NotGitOps
	if errors.As(err, &ng) {
		return "", fmt.Errorf("%s is not managed by GitOps in %s: %v", code(app), code(env.Name), ng)
	}
	if err != nil || len(owners) == 0 {
		x.bot.Log.Info("no owner from the cluster; using the repository's layout", "app", app, "env", env.Name, "err", err)
		return "", nil
	}
	var flux, argo bool
	paths := map[string]bool{}
	var names []string
	for _, o := range owners {
		names = append(names, code(o.Ref.String()))
		if o.Ref.Kind == "Application" {
			argo = true
		} else {
			flux = true
		}
		if o.RepoURL != "" && !providers.SameRepo(o.RepoURL, x.event.Repo.CloneURL) {
			if x.redirected {
				return "", fmt.Errorf("%s in %s is applied by %s from %s, not from this repository: make the change there", code(app), code(env.Name), code(o.Ref.String()), code(o.RepoURL))
			}
			return "", &elsewhere{url: o.RepoURL, owner: o.Ref.String()}
		}
		paths[o.Path] = true
	}
	switch {
	case flux && argo:
		return "", fmt.Errorf("%s in %s is managed by both Argo CD and Flux (%s); fix that first", code(app), code(env.Name), strings.Join(names, ", "))
	case len(paths) > 1:
		return "", fmt.Errorf("%s in %s is applied by several objects (%s); say which by editing it by hand", code(app), code(env.Name), strings.Join(names, ", "))
	}
	for p := range paths {
		return p, nil
	}
	return "", nil
}

// elsewhere: the workload belongs to another repository.
type elsewhere struct{ url, owner string }

func (e *elsewhere) Error() string {
	return fmt.Sprintf("applied by %s from %s, not from this repository", e.owner, e.url)
}

// inOtherRepo runs a command again in the repository that owns the
// workload, when the host can reach it and the commenter may change it.
func (x *execution) inOtherRepo(ctx context.Context, ew *elsewhere, run runFunc, args []string) (string, error) {
	where := fmt.Sprintf("%s: the workload is applied by %s from %s, not from this repository", code(x.inv.Line), code(ew.owner), code(ew.url))
	opener, ok := x.forge.(forge.Opener)
	if !ok {
		return where + "; make the change there.", nil
	}
	f, repo, err := opener.OpenRepo(ctx, ew.url)
	if errors.Is(err, forge.ErrNotFound) {
		return where + ", and the bot cannot reach that repository (is it installed there?), so I opened nothing.", nil
	}
	if err != nil {
		return "", err
	}
	cfg, err := LoadConfig(ctx, f, repo, repo.DefaultBranch)
	var ce *ConfigError
	if errors.As(err, &ce) {
		return where + ", whose config is invalid:\n\n" + codeBlock("", ce.Error()), nil
	}
	if err != nil {
		return "", err
	}
	ok, why, err := authorize(ctx, f, repo, cfg.Access, x.event.Author)
	if err != nil {
		return "", err
	}
	if !ok {
		return fmt.Sprintf("%s; sorry %s, there %s, so I did not run it.", where, mention(x.event.Author), why), nil
	}
	ev := x.event
	ev.Repo = repo
	sub := &execution{bot: x.bot, forge: f, event: ev, config: cfg, inv: x.inv, plan: x.plan, redirected: true}
	out, err := run(ctx, sub, args)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("The workload is applied from %s, so the change is there.\n\n%s", code(repo.FullName()), out), nil
}

func descs(ts []target) string {
	var out []string
	for _, t := range ts {
		out = append(out, t.desc)
	}
	return strings.Join(out, ", ")
}

// where is a list item whose field has a value, as a path step.
type where struct{ field, equals string }

// at builds a path from keys and where steps. User text (an image name
// with dots) goes in as whole steps, never parsed.
func at(parts ...any) []yamledit.Step {
	var out []yamledit.Step
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			for _, k := range strings.Split(v, ".") {
				out = append(out, yamledit.Step{Key: k})
			}
		case where:
			out = append(out, yamledit.Step{Field: v.field, Equals: v.equals})
		case []yamledit.Step:
			out = append(out, v...)
		}
	}
	return out
}

func scalar(doc *yaml.Node, p []yamledit.Step) string {
	if n := yamledit.Find(doc, p); n != nil && n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

// valuesRoot is where Helm values sit in a target.
func valuesRoot(kind string) []yamledit.Step {
	switch kind {
	case inHelmRelease:
		return at("spec.values")
	case inApplication:
		return at("spec.source.helm.valuesObject")
	}
	return nil
}

// container is the path of app's container in a Deployment.
func container(app string) []yamledit.Step {
	return at("spec.template.spec.containers", where{"name", app})
}

// edit is one change to one target file.
type edit struct {
	path  string
	doc   int
	field []yamledit.Step
	value any // a scalar, or a map for a missing parent
}

// apply makes the edits on the file's content: set in place, or insert
// under the deepest mapping that exists.
func apply(src []byte, edits []edit) ([]byte, error) {
	out := src
	for _, e := range edits {
		next, err := yamledit.SetScalar(out, e.doc, e.field, fmt.Sprint(e.value))
		if yamledit.IsMissing(err) {
			next, err = insert(out, e.doc, e.field, e.value)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", describe(e.field), err)
		}
		out = next
	}
	return out, nil
}

func describe(p []yamledit.Step) string {
	var b strings.Builder
	for _, s := range p {
		if s.Key != "" {
			if b.Len() > 0 {
				b.WriteString(".")
			}
			b.WriteString(s.Key)
		} else {
			fmt.Fprintf(&b, "[%s=%s]", s.Field, s.Equals)
		}
	}
	return b.String()
}

func insert(src []byte, doc int, p []yamledit.Step, value any) ([]byte, error) {
	docs, err := yamledit.Docs(src)
	if err != nil {
		return nil, err
	}
	for i := len(p) - 1; i >= 1; i-- {
		parent := yamledit.Find(docs[doc], p[:i])
		if parent == nil || parent.Kind != yaml.MappingNode {
			continue
		}
		var v any = value
		for j := len(p) - 1; j > i; j-- {
			if p[j].Key == "" {
				return nil, errors.New("cannot add a list item")
			}
			v = map[string]any{p[j].Key: v}
		}
		return yamledit.Insert(src, doc, p[:i], p[i].Key, v)
	}
	return nil, errors.New("no place to add it")
}

// change edits one file and returns it as a manifest, reading it first.
func (x *execution) change(ctx context.Context, file string, env string, edits []edit) (providers.Manifest, error) {
	src, err := x.forge.ReadFile(ctx, x.event.Repo, x.event.Repo.DefaultBranch, file)
	if err != nil {
		return providers.Manifest{}, err
	}
	out, err := apply(src, edits)
	if err != nil {
		return providers.Manifest{}, &preflight.Error{Problems: []preflight.Problem{{File: file, Err: err.Error()}}}
	}
	return providers.Manifest{Path: file, Env: env, Raw: out}, nil
}

// checkEdited builds the overlays and validates the objects of the edited files.
func (x *execution) checkEdited(ctx context.Context, ms []providers.Manifest, overlays []string) error {
	files, err := x.repoFiles(ctx)
	if err != nil {
		return err
	}
	changes, err := encode(ms)
	if err != nil {
		return err
	}
	req := preflight.Request{Kustomizations: overlays}
	for _, m := range ms {
		objs, err := objectsOf(m.Raw)
		if err != nil {
			return &preflight.Error{Problems: []preflight.Problem{{File: m.Path, Err: err.Error()}}}
		}
		req.Manifests = append(req.Manifests, providers.Manifest{Path: m.Path, Objects: objs})
	}
	tree := preflight.NewTree(ctx, x.forge, x.event.Repo, x.event.Repo.DefaultBranch, files, changes)
	return preflight.Check(ctx, tree, req)
}

// objectsOf reads the Kubernetes objects of a file (none for values files).
func objectsOf(b []byte) ([]providers.Object, error) {
	docs, err := yamledit.Docs(b)
	if err != nil {
		return nil, err
	}
	var out []providers.Object
	for _, d := range docs {
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			return nil, err
		}
		apiVersion, _ := m["apiVersion"].(string)
		kind, _ := m["kind"].(string)
		// A values file has no kind; a kustomization.yaml is not an object.
		if apiVersion != "" && kind != "" && !strings.HasPrefix(apiVersion, "kustomize.config.k8s.io/") {
			out = append(out, providers.Object(m))
		}
	}
	return out, nil
}

// deploymentOf follows an overlay's resources to the file that defines
// the Deployment named app.
func (x *execution) deploymentOf(ctx context.Context, overlay, app string) (target, error) {
	seen := map[string]bool{}
	var walk func(dir string) (target, bool, error)
	walk = func(dir string) (target, bool, error) {
		if seen[dir] {
			return target{}, false, nil
		}
		seen[dir] = true
		b, err := x.forge.ReadFile(ctx, x.event.Repo, x.event.Repo.DefaultBranch, path.Join(dir, "kustomization.yaml"))
		if err != nil {
			return target{}, false, nil
		}
		var k struct{ Resources []string }
		if yaml.Unmarshal(b, &k) != nil {
			return target{}, false, nil
		}
		for _, r := range k.Resources {
			p := path.Clean(path.Join(dir, r))
			if strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml") {
				fb, err := x.forge.ReadFile(ctx, x.event.Repo, x.event.Repo.DefaultBranch, p)
				if err != nil {
					continue
				}
				docs, _ := yamledit.Docs(fb)
				for i, d := range docs {
					if scalar(d, at("kind")) == "Deployment" && scalar(d, at("metadata.name")) == app {
						return target{kind: inDeployment, path: p, doc: i, desc: "the Deployment in " + code(p)}, true, nil
					}
				}
				continue
			}
			if t, ok, err := walk(p); ok || err != nil {
				return t, ok, err
			}
		}
		return target{}, false, nil
	}
	t, ok, err := walk(path.Dir(overlay))
	if err == nil && !ok {
		err = fmt.Errorf("no Deployment %s in the resources of %s", code(app), code(overlay))
	}
	return t, err
}

// proposeEdits opens the pull request of a day-2 change.
func (x *execution) proposeEdits(ctx context.Context, verb, app string, envs []string, title, summary string, ms []providers.Manifest, overlays []string) (string, error) {
	if err := x.checkEdited(ctx, ms, overlays); err != nil {
		return "", err
	}
	sort.Strings(overlays)
	return x.propose(ctx, proposal{
		verb: verb, app: app, envs: envs, provider: x.config.Provider,
		title: title, summary: summary, manifests: ms, validated: true,
	})
}

func checkQuantity(flag, v string) error {
	if v == "" {
		return nil
	}
	q, err := resource.ParseQuantity(v)
	if err != nil || q.Sign() <= 0 {
		return fmt.Errorf("%s %q is not a positive quantity (like 500m or 512Mi)", flag, v)
	}
	return nil
}
