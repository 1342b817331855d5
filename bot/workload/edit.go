package workload

import (
	"context"
	"fmt"
	"path"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/kustfile"
	"github.com/gitops-bot/gitops-bot/providers/preflight"
	"github.com/gitops-bot/gitops-bot/providers/yamledit"
)

// Change is a day-2 change of one environment: the edited files, and the
// kustomizations to build before proposing them.
type Change struct {
	Verb, App, Env string // for the branch: the change a verb of this name makes
	Title, Summary string // for the pull request
	Manifests      []providers.Manifest
	Overlays       []string
	Target         Target
	// Patches are edited files a kustomization applies as patches: they are
	// judged by the build, not validated as whole objects.
	Patches []string
	// Expect is what the built objects must say after the change.
	Expect []Expect
	// Rendered, for a HelmRelease, is what the objects its chart renders
	// must show after the change ("" when they do): the chart is rendered
	// when the bot can fetch it.
	Rendered func(objs []map[string]any) string
}

// Expect is a value an object must have after a change, as the cluster
// will build it (kustomize applied), so that a change that would not take
// effect is a reply, never a pull request.
type Expect struct {
	Kind, Name string
	What       string // for the reply: "the image tag"
	Want       string
	Get        func(obj map[string]any) string
}

// where is a list item whose field has a value, as a path step.
type where struct{ field, equals string }

// At builds a path from keys and where steps. User text (an image name
// with dots) goes in as whole steps, never parsed.
func At(parts ...any) []yamledit.Step {
	var out []yamledit.Step
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			for _, k := range strings.Split(v, ".") {
				out = append(out, yamledit.Step{Key: k})
			}
		case where:
			out = append(out, yamledit.Step{Field: v.field, Equals: v.equals})
		case yamledit.Step:
			out = append(out, v)
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
func valuesRoot(k Kind) []yamledit.Step {
	switch k {
	case InHelmRelease:
		return At("spec.values")
	case InApplication:
		return At("spec.source.helm.valuesObject")
	}
	return nil
}

// container is the path of app's container in a Deployment.
func container(app string) []yamledit.Step {
	return At("spec.template.spec.containers", where{"name", app})
}

// edit is one change to one target file.
type edit struct {
	doc   int
	field []yamledit.Step
	value any // a scalar, or a map for a missing parent
}

// apply makes the edits on the file's content: set in place, or insert
// under the deepest mapping that exists.
func apply(src []byte, edits []edit) ([]byte, error) {
	out := src
	for _, e := range edits {
		next, err := yamledit.Set(out, e.doc, e.field, e.value)
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
		} else if s.Image != "" {
			fmt.Fprintf(&b, "[%s]", s.Image)
		} else {
			fmt.Fprintf(&b, "[%s=%s]", s.Field, s.Equals)
		}
	}
	return b.String()
}

// change edits the target's file and returns the change, reading it first.
func (w *Repo) change(ctx context.Context, t Target, verb, app, env string, edits []edit) (Change, error) {
	src, err := w.Files.Read(ctx, t.Path)
	if err != nil {
		return Change{}, err
	}
	out, err := apply(src, edits)
	if err != nil {
		return Change{}, &preflight.Error{Problems: []preflight.Problem{{File: t.Path, Err: err.Error()}}}
	}
	return w.changed(ctx, t, verb, app, env, out)
}

// changed is the change of the target's file to out.
func (w *Repo) changed(ctx context.Context, t Target, verb, app, env string, out []byte) (Change, error) {
	c := Change{Verb: verb, App: app, Env: env, Target: t, Manifests: []providers.Manifest{{Path: t.Path, Env: env, Raw: out}}}
	if t.Kind == InOverlay {
		c.Overlays = []string{path.Dir(t.Path)}
	}
	if dir, err := w.patchedBy(ctx, t.Path); err != nil {
		return Change{}, err
	} else if dir != "" {
		c.Overlays = append(c.Overlays, dir)
		c.Patches = append(c.Patches, t.Path)
	}
	return c, nil
}

// patchedBy returns the directory whose kustomization applies file as a
// patch ("" when none does).
func (w *Repo) patchedBy(ctx context.Context, file string) (string, error) {
	dir := path.Dir(file)
	kpath, err := w.Files.Existing(ctx, kustfile.In(dir)...)
	if err != nil || kpath == "" {
		return "", err
	}
	b, err := w.Files.Read(ctx, kpath)
	if err != nil {
		return "", err
	}
	for _, p := range kustfile.Parse(b).PatchFiles(dir) {
		if p == file {
			return dir, nil
		}
	}
	return "", nil
}

// current reads one value of a target ("" when it has none).
func (w *Repo) current(ctx context.Context, t Target, field []yamledit.Step) string {
	src, err := w.Files.Read(ctx, t.Path)
	if err != nil {
		return ""
	}
	docs, err := yamledit.Docs(src)
	if err != nil || t.Doc >= len(docs) {
		return ""
	}
	return scalar(docs[t.Doc], field)
}

// Check builds the overlays of a change and validates the objects of the
// edited files, on the repository as it would be after the change. What it
// could not check is said in the change's summary.
func (w *Repo) Check(ctx context.Context, c *Change) error {
	req := preflight.Request{Kustomizations: c.Overlays}
	var changes []providers.Manifest
	for _, m := range c.Manifests {
		if contains(c.Patches, m.Path) {
			changes = append(changes, m) // a patch: its build is what counts
			continue
		}
		objs, err := objectsOf(m.Raw)
		if err != nil {
			return &preflight.Error{Problems: []preflight.Problem{{File: m.Path, Err: err.Error()}}}
		}
		req.Manifests = append(req.Manifests, providers.Manifest{Path: m.Path, Objects: objs})
		changes = append(changes, m)
	}
	tree := preflight.NewLazyTree(ctx, w.Files, rawFiles(changes))
	if err := preflight.Check(ctx, tree, req); err != nil {
		return err
	}
	return w.takesEffect(ctx, c, tree)
}

// rendersAsAsked renders the chart of the changed HelmRelease with its
// values as built, and checks what the chart makes.
func (w *Repo) rendersAsAsked(ctx context.Context, c *Change, built []map[string]any) error {
	if c.Rendered == nil || c.Target.Kind != InHelmRelease {
		return nil
	}
	var hr map[string]any
	for _, o := range built {
		if r := providers.Object(o).Ref(); r.Kind == "HelmRelease" && r.Name == c.Target.Name {
			hr = o
		}
	}
	notRendered := func(why string) error {
		c.Summary += fmt.Sprintf("\n\nThe chart was not rendered (%s), so this change is checked on the release's values, not on what the chart makes of them.", why)
		return nil
	}
	if hr == nil {
		return notRendered("the release is not in the build")
	}
	chart := lookupString(hr, At("spec.chart.spec.chart"))
	version := lookupString(hr, At("spec.chart.spec.version"))
	if lookupString(hr, At("spec.chart.spec.sourceRef.kind")) != "HelmRepository" || chart == "" {
		return notRendered("its chart is not taken from a Helm repository")
	}
	if w.Charts == nil {
		return notRendered("the bot renders no charts")
	}
	url, err := w.helmRepositoryURL(ctx, lookupString(hr, At("spec.chart.spec.sourceRef.name")), c.Target.Path, built)
	if err != nil || url == "" {
		return notRendered("its HelmRepository is not in this repository")
	}
	ref := providers.Object(hr).Ref()
	ns := lookupString(hr, At("spec.targetNamespace"))
	release := lookupString(hr, At("spec.releaseName"))
	switch {
	case release != "":
	case ns != "":
		release = ns + "-" + ref.Name // Flux's default release name
	default:
		release = ref.Name
	}
	if ns == "" {
		ns = ref.Namespace
	}
	values, _ := lookup(hr, At("spec.values")).(map[string]any)
	objs, err := w.Charts.Render(ctx, url, chart, version, release, ns, values)
	if err != nil {
		return notRendered(err.Error())
	}
	if why := c.Rendered(objs); why != "" {
		return errs.Invalid("the change would not take effect: the chart %s %s, rendered with the release's values, %s", md.Code(chart), md.Code(version), why)
	}
	c.Summary += fmt.Sprintf("\n\nChecked by rendering the chart %s %s with the release's values.", md.Code(chart), md.Code(version))
	return nil
}

// helmRepositoryURL finds the HelmRepository name: in the build, or among
// the files of the release's directory and the directories above it.
func (w *Repo) helmRepositoryURL(ctx context.Context, name, file string, built []map[string]any) (string, error) {
	for _, o := range built {
		if r := providers.Object(o).Ref(); r.Kind == "HelmRepository" && r.Name == name {
			return lookupString(o, At("spec.url")), nil
		}
	}
	for dir := path.Dir(file); ; dir = path.Dir(dir) {
		files, err := w.Files.YAMLUnder(ctx, dir)
		if err != nil {
			return "", err
		}
		for _, f := range files {
			objs, err := w.Files.Objects(ctx, f)
			if err != nil {
				return "", err
			}
			for _, o := range objs {
				if o.Kind == "HelmRepository" && o.Name == name {
					return o.URL, nil
				}
			}
		}
		if dir == "." || dir == "/" || !strings.Contains(dir, "/") {
			return "", nil
		}
	}
}

// takesEffect checks the change's expectations on what the cluster will
// build: the overlays' builds when there are any, the edited file's
// objects otherwise.
func (w *Repo) takesEffect(ctx context.Context, c *Change, after *preflight.Tree) error {
	if len(c.Expect) == 0 && c.Rendered == nil {
		return nil
	}
	var built []map[string]any
	if len(c.Overlays) > 0 {
		for _, dir := range c.Overlays {
			objs, err := preflight.Build(after, dir)
			if err != nil {
				return errs.Invalid("%v", err)
			}
			built = append(built, objs...)
		}
	} else {
		for _, m := range c.Manifests {
			objs, err := objectsOf(m.Raw)
			if err != nil {
				return err
			}
			for _, o := range objs {
				built = append(built, map[string]any(o))
			}
		}
	}
	for _, e := range c.Expect {
		got, found := "", false
		for _, o := range built {
			r := providers.Object(o).Ref()
			if r.Kind == e.Kind && r.Name == e.Name {
				got, found = e.Get(o), true
			}
		}
		switch {
		case !found:
			return errs.Invalid("the change would not take effect: no %s %s is in what %s builds", e.Kind, md.Code(e.Name), md.Code(strings.Join(c.Overlays, ", ")))
		case got != e.Want:
			return errs.Invalid("the change would not take effect: after it, %s of the %s %s as built is %s, not %s", e.What, e.Kind, md.Code(e.Name), md.Code(got), md.Code(e.Want))
		}
	}
	return w.rendersAsAsked(ctx, c, built)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// lookup reads a value of an object by keys and list selectors.
func lookup(obj any, steps []yamledit.Step) any {
	cur := obj
	for _, st := range steps {
		switch v := cur.(type) {
		case map[string]any:
			if st.Key == "" {
				return nil
			}
			cur = v[st.Key]
		case []any:
			var next any
			for _, item := range v {
				if m, ok := item.(map[string]any); ok && fmt.Sprint(m[st.Field]) == st.Equals {
					next = m
				}
			}
			cur = next
		default:
			return nil
		}
	}
	return cur
}

func lookupString(obj any, steps []yamledit.Step) string {
	v := lookup(obj, steps)
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
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
func (w *Repo) deploymentOf(ctx context.Context, overlay, app string) (Target, error) {
	seen := map[string]bool{}
	var walk func(dir string) (Target, bool)
	walk = func(dir string) (Target, bool) {
		if seen[dir] {
			return Target{}, false
		}
		seen[dir] = true
		kpath, err := w.Files.Existing(ctx, kustfile.In(dir)...)
		if err != nil || kpath == "" {
			return Target{}, false
		}
		b, err := w.Files.Read(ctx, kpath)
		if err != nil {
			return Target{}, false
		}
		k := kustfile.Parse(b)
		for _, r := range append(k.Resources, k.Bases...) {
			p := path.Clean(path.Join(dir, r))
			if strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml") {
				fb, err := w.Files.Read(ctx, p)
				if err != nil {
					continue
				}
				docs, _ := yamledit.Docs(fb)
				for i, d := range docs {
					if scalar(d, At("kind")) == "Deployment" && scalar(d, At("metadata.name")) == app {
						return Target{Kind: InDeployment, Name: app, Path: p, Doc: i, Desc: "the Deployment in " + md.Code(p)}, true
					}
				}
				continue
			}
			if t, ok := walk(p); ok {
				return t, ok
			}
		}
		return Target{}, false
	}
	t, ok := walk(path.Dir(overlay))
	if !ok {
		return Target{}, errs.Invalid("no Deployment %s in the resources of %s", md.Code(app), md.Code(overlay))
	}
	return t, nil
}

func rawFiles(ms []providers.Manifest) []forge.File {
	out := make([]forge.File, 0, len(ms))
	for _, m := range ms {
		out = append(out, forge.File{Path: m.Path, Content: m.Raw, Delete: m.Delete})
	}
	return out
}
