package workload

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/kustfile"
	"github.com/gitops-bot/gitops-bot/providers/preflight"
	"github.com/gitops-bot/gitops-bot/providers/shape"
	"github.com/gitops-bot/gitops-bot/providers/yamledit"
)

// overlayImage sets the image in an overlay's images: its entry for the
// image the base runs (found in the overlay's build), with newName when
// the image named comes from elsewhere; a new entry when there is none.
func (w *Repo) overlayImage(ctx context.Context, t Target, app string, image providers.Image) ([]byte, error) {
	src, err := w.Files.Read(ctx, t.Path)
	if err != nil {
		return nil, err
	}
	return w.setOverlayImage(ctx, t, src, app, image)
}

// setOverlayImage is overlayImage on the overlay's content src.
func (w *Repo) setOverlayImage(ctx context.Context, t Target, src []byte, app string, image providers.Image) ([]byte, error) {
	docs, err := yamledit.Docs(src)
	if err != nil || len(docs) == 0 {
		return nil, errs.Invalid("%s does not parse: %v", md.Code(t.Path), err)
	}
	if yamledit.Find(docs[0], At("images", where{"name", image.Name})) != nil {
		return apply(src, []edit{{field: At("images", where{"name", image.Name}, "newTag"), value: image.Tag}})
	}
	base, err := w.builtImageName(ctx, path.Dir(t.Path), app)
	if err != nil {
		return nil, err
	}
	entry := At("images", where{"name", base})
	if yamledit.Find(docs[0], entry) != nil {
		edits := []edit{{field: At(entry, "newTag"), value: image.Tag}}
		if !sameImage(base, image.Name) {
			edits = append(edits, edit{field: At(entry, "newName"), value: image.Name})
		}
		return apply(src, edits)
	}
	item := map[string]string{"name": base, "newTag": image.Tag}
	if !sameImage(base, image.Name) {
		item["newName"] = image.Name
	}
	out, err := yamledit.AppendValue(src, 0, At("images"), item)
	if err != nil {
		return nil, &preflight.Error{Problems: []preflight.Problem{{File: t.Path, Err: err.Error()}}}
	}
	return out, nil
}

// builtImageName is the image name (without tag or digest) that the
// Deployment app of an overlay's build runs, as its base writes it.
func (w *Repo) builtImageName(ctx context.Context, overlay, app string) (string, error) {
	d, err := w.deploymentOf(ctx, path.Join(overlay, "kustomization.yaml"), app)
	if err != nil {
		return "", err
	}
	name, err := w.containerName(ctx, d, app)
	if err != nil {
		return "", err
	}
	img := w.current(ctx, d, At("spec.template.spec.containers", where{"name", name}, "image"))
	if img == "" {
		return "", errs.Invalid("the Deployment %s in %s names no image", md.Code(app), md.Code(d.Path))
	}
	if i := strings.Index(img, "@"); i >= 0 {
		img = img[:i]
	}
	if i := strings.LastIndex(img, ":"); i > strings.LastIndex(img, "/") {
		img = img[:i]
	}
	return img, nil
}

// workloads are the pod-running objects a chart renders.
func workloads(objs []map[string]any) []map[string]any {
	var out []map[string]any
	for _, o := range objs {
		switch providers.Object(o).Ref().Kind {
		case "Deployment", "StatefulSet", "DaemonSet":
			out = append(out, o)
		}
	}
	return out
}

// rendersImage: some container the chart renders runs image.
func rendersImage(image providers.Image) func([]map[string]any) string {
	return func(objs []map[string]any) string {
		var seen []string
		for _, o := range workloads(objs) {
			containers, _ := lookup(o, At("spec.template.spec.containers")).([]any)
			for _, c := range containers {
				img := lookupString(c, At("image"))
				seen = append(seen, md.Code(img))
				if i := strings.Index(img, "@"); i >= 0 {
					img = img[:i]
				}
				if got, err := splitImage(img); err == nil && sameImage(got.Name, image.Name) && got.Tag == image.Tag {
					return ""
				}
			}
		}
		return fmt.Sprintf("runs no container of %s (it runs %s)", md.Code(image.String()), strings.Join(seen, ", "))
	}
}

// rendersReplicas: some workload the chart renders has n replicas.
func rendersReplicas(n int) func([]map[string]any) string {
	return func(objs []map[string]any) string {
		for _, o := range workloads(objs) {
			if lookupString(o, At("spec.replicas")) == strconv.Itoa(n) {
				return ""
			}
		}
		return fmt.Sprintf("sets no workload's replicas to %d", n)
	}
}

// imageExpect is what the build says after /set-image: the workload's
// container runs the image, or the chart's values hold its tag. A chart's
// values in this repository are not rendered here: no expectation.
func imageExpect(t Target, app string, image providers.Image) []Expect {
	switch t.Kind {
	case InOverlay:
		want := image.Name + ":" + image.Tag
		return []Expect{{Kind: "Deployment", Name: app, What: "the image", Want: want, Get: func(o map[string]any) string {
			containers, _ := lookup(o, At("spec.template.spec.containers")).([]any)
			for _, c := range containers {
				img := lookupString(c, At("image"))
				if strings.HasPrefix(img, image.Name+":") || strings.HasPrefix(img, image.Name+"@") || img == image.Name {
					return img
				}
			}
			return ""
		}}}
	case InHelmRelease, InApplication:
		field, root := t.field, len(valuesRoot(t.Kind))
		return []Expect{{Kind: kindOf(t.Kind), Name: t.Name, What: "the image tag", Want: image.Tag,
			Get: func(o map[string]any) string { return effective(o, field, root) }}}
	case InDeployment:
		field := At(container(app), "image")
		return []Expect{{Kind: "Deployment", Name: t.Name, What: "the image", Want: image.String(),
			Get: func(o map[string]any) string { return lookupString(o, field) }}}
	}
	return nil
}

// replicasExpect is what the build says after /scale.
func replicasExpect(t Target, app string, n int) []Expect {
	want := strconv.Itoa(n)
	switch t.Kind {
	case InOverlay, InDeployment:
		name := app
		if t.Kind == InDeployment {
			name = t.Name
		}
		return []Expect{{Kind: "Deployment", Name: name, What: "the replicas", Want: want,
			Get: func(o map[string]any) string { return lookupString(o, At("spec.replicas")) }}}
	case InHelmRelease, InApplication:
		field, root := replicasField(t, app), len(valuesRoot(t.Kind))
		return []Expect{{Kind: kindOf(t.Kind), Name: t.Name, What: "the replicas", Want: want,
			Get: func(o map[string]any) string { return effective(o, field, root) }}}
	}
	return nil
}

// kindOf is the object kind a target is.
func kindOf(k Kind) string {
	switch k {
	case InHelmRelease:
		return "HelmRelease"
	case InApplication:
		return "Application"
	}
	return "Deployment"
}

// doc reads the target's document.
func (w *Repo) doc(ctx context.Context, t Target) (*yaml.Node, error) {
	src, err := w.Files.Read(ctx, t.Path)
	if err != nil {
		return nil, err
	}
	docs, err := yamledit.Docs(src)
	if err != nil || t.Doc >= len(docs) {
		return nil, errs.Invalid("%s does not parse: %v", md.Code(t.Path), err)
	}
	return docs[t.Doc], nil
}

// helmParameters: an Argo CD Application's spec.source.helm.parameters
// win over its values, so a value a parameter sets is changed there.
func (w *Repo) helmParameters(ctx context.Context, t Target, edits []edit) ([]edit, error) {
	if t.Kind != InApplication {
		return edits, nil
	}
	d, err := w.doc(ctx, t)
	if err != nil {
		return nil, err
	}
	root := len(valuesRoot(t.Kind))
	out := make([]edit, 0, len(edits))
	for _, e := range edits {
		name := dotted(e.field[root:])
		if name != "" && yamledit.Find(d, At("spec.source.helm.parameters", where{"name", name})) != nil {
			e.field = At("spec.source.helm.parameters", where{"name", name}, "value")
		}
		out = append(out, e)
	}
	return out, nil
}

// dotted is a values path as Helm's --set writes it ("" with list steps).
func dotted(p []yamledit.Step) string {
	var keys []string
	for _, s := range p {
		if s.Key == "" || strings.Contains(s.Key, ".") {
			return ""
		}
		keys = append(keys, s.Key)
	}
	return strings.Join(keys, ".")
}

// effective reads a chart value as Argo CD computes it: a Helm parameter
// of the same name wins over the values.
func effective(o map[string]any, field []yamledit.Step, root int) string {
	if name := dotted(field[root:]); name != "" {
		params, _ := lookup(o, At("spec.source.helm.parameters")).([]any)
		for _, p := range params {
			if lookupString(p, At("name")) == name {
				return lookupString(p, At("value"))
			}
		}
	}
	return lookupString(o, field)
}

// valuesNode is the values mapping of a chart target (nil when it has none yet).
func (w *Repo) valuesNode(ctx context.Context, t Target) (*yaml.Node, error) {
	d, err := w.doc(ctx, t)
	if err != nil {
		return nil, err
	}
	return yamledit.Find(d, valuesRoot(t.Kind)), nil
}

// MaxReplicas bounds what a command or an alert may scale to.
const MaxReplicas = 1000

// SetImage changes the image of app in env.
func (w *Repo) SetImage(ctx context.Context, app string, env config.Environment, image providers.Image) (Change, error) {
	return w.SetContainerImage(ctx, app, "", env, image)
}

// SetContainerImage changes the image of one container ("" for the
// workload's main one) of app in env.
func (w *Repo) SetContainerImage(ctx context.Context, app, containerName string, env config.Environment, image providers.Image) (Change, error) {
	ask := shape.Ask{Field: shape.Image, Container: containerName, Image: shape.Img{Name: image.Name, Tag: image.Tag, Digest: image.Digest}}
	if c, wl, err := w.modeledImage(ctx, app, env, ask, image); !errors.Is(err, errNotModeled) {
		_ = wl
		return c, err
	}
	if containerName != "" {
		return Change{}, errs.Invalid("no workload %s with a container %s in %s", md.Code(app), md.Code(containerName), md.Code(env.Name))
	}
	t, err := w.Locate(ctx, app, env)
	if err != nil {
		return Change{}, err
	}
	var edits []edit
	switch t.Kind {
	case InOverlay:
		base, err := w.builtImageName(ctx, path.Dir(t.Path), app)
		if err != nil {
			return Change{}, err
		}
		if at, ok, err := w.argoOverride(ctx, env, path.Dir(t.Path), At("images", yamledit.Step{Image: base})); err != nil {
			return Change{}, err
		} else if ok {
			c, err := w.argoImage(ctx, at, base, image, app, env.Name)
			c.Title = fmt.Sprintf("Set %s image to %s in %s", app, image.String(), env.Name)
			c.Summary = fmt.Sprintf("Sets the image of %s in %s to %s, in %s (Argo CD applies it over the overlay).", md.Code(app), md.Code(env.Name), md.Code(image.String()), at.Desc)
			return c, err
		}
		out, err := w.overlayImage(ctx, t, app, image)
		if err != nil {
			return Change{}, err
		}
		c, err := w.changed(ctx, t, "set-image", app, env.Name, out)
		c.Expect = imageExpect(t, app, image)
		c.Title = fmt.Sprintf("Set %s image to %s in %s", app, image.String(), env.Name)
		c.Summary = fmt.Sprintf("Sets the image of %s in %s to %s, in %s.", md.Code(app), md.Code(env.Name), md.Code(image.String()), t.Desc)
		return c, err
	case InBuild:
		es, field := imageEdits(t.builtValues(), At("spec.values"), 0, image)
		sets := map[string]any{}
		for _, e := range es {
			k, err := dottedPath(e.field)
			if err != nil {
				return Change{}, err
			}
			sets[k] = e.value
		}
		c, err := w.envPatch(ctx, t, "set-image", app, env.Name, sets)
		t.Kind, t.field = InHelmRelease, field
		c.Expect, c.Rendered = imageExpect(t, app, image), rendersImage(image)
		c.Target.Kind = InHelmRelease
		c.Title = fmt.Sprintf("Set %s image to %s in %s", app, image.String(), env.Name)
		c.Summary = fmt.Sprintf("Sets the image of %s in %s to %s, in %s.", md.Code(app), md.Code(env.Name), md.Code(image.String()), c.Target.Desc)
		return c, err
	case InValues, InHelmRelease, InApplication:
		values, err := w.valuesNode(ctx, t)
		if err != nil {
			return Change{}, err
		}
		edits, t.field = imageEdits(values, valuesRoot(t.Kind), t.Doc, image)
		if edits, err = w.helmParameters(ctx, t, edits); err != nil {
			return Change{}, err
		}
	case InDeployment:
		edits = []edit{{doc: t.Doc, field: At(container(app), "image"), value: image.String()}}
	}
	c, err := w.change(ctx, t, "set-image", app, env.Name, edits)
	c.Expect = imageExpect(t, app, image)
	c.Rendered = rendersImage(image)
	c.Title = fmt.Sprintf("Set %s image to %s in %s", app, image.String(), env.Name)
	c.Summary = fmt.Sprintf("Sets the image of %s in %s to %s, in %s.", md.Code(app), md.Code(env.Name), md.Code(image.String()), t.Desc)
	return c, err
}

// Scale sets the replicas of app in env.
func (w *Repo) Scale(ctx context.Context, app string, env config.Environment, n int) (Change, error) {
	if c, err := w.modeledScale(ctx, app, env, n); !errors.Is(err, errNotModeled) {
		return c, err
	}
	t, err := w.Locate(ctx, app, env)
	if err != nil {
		return Change{}, err
	}
	if t.Kind == InOverlay {
		field := At("replicas", where{"name", app})
		if at, ok, err := w.argoOverride(ctx, env, path.Dir(t.Path), field); err != nil {
			return Change{}, err
		} else if ok {
			count := At(at.kustomizeRoot(), field, "count")
			c, err := w.change(ctx, at, "scale", app, env.Name, []edit{{doc: at.Doc, field: count, value: n}})
			if !at.override {
				c.Expect = []Expect{{Kind: "Application", Name: at.Name, What: "the replicas override", Want: strconv.Itoa(n),
					Get: func(o map[string]any) string { return lookupString(o, count) }}}
			}
			c.Title = fmt.Sprintf("Scale %s to %d in %s", app, n, env.Name)
			c.Summary = fmt.Sprintf("Sets %s to %d replicas in %s, in %s (Argo CD applies it over the overlay).", md.Code(app), n, md.Code(env.Name), at.Desc)
			return c, err
		}
	}
	if t.Kind == InBuild {
		field := At("spec.values", replicasPath(t.builtValues()))
		k, err := dottedPath(field)
		if err != nil {
			return Change{}, err
		}
		c, err := w.envPatch(ctx, t, "scale", app, env.Name, map[string]any{k: n})
		t.Kind, t.field = InHelmRelease, field
		c.Expect, c.Rendered = replicasExpect(t, app, n), rendersReplicas(n)
		c.Target.Kind = InHelmRelease
		c.Title = fmt.Sprintf("Scale %s to %d in %s", app, n, env.Name)
		c.Summary = fmt.Sprintf("Sets %s to %d replicas in %s, in %s.", md.Code(app), n, md.Code(env.Name), c.Target.Desc)
		return c, err
	}
	edits := []edit{{doc: t.Doc, field: replicasField(t, app), value: n}}
	if t.Kind == InValues || t.Kind == InHelmRelease || t.Kind == InApplication {
		values, err := w.valuesNode(ctx, t)
		if err != nil {
			return Change{}, err
		}
		t.field = At(valuesRoot(t.Kind), replicasPath(values))
		edits = []edit{{doc: t.Doc, field: t.field, value: n}}
		if edits, err = w.helmParameters(ctx, t, edits); err != nil {
			return Change{}, err
		}
	}
	c, err := w.change(ctx, t, "scale", app, env.Name, edits)
	c.Expect = replicasExpect(t, app, n)
	c.Rendered = rendersReplicas(n)
	c.Title = fmt.Sprintf("Scale %s to %d in %s", app, n, env.Name)
	c.Summary = fmt.Sprintf("Sets %s to %d replicas in %s, in %s.", md.Code(app), n, md.Code(env.Name), t.Desc)
	return c, err
}

// Replicas reads the replicas app has in env (0 when the target sets none).
func (w *Repo) Replicas(ctx context.Context, app string, env config.Environment) (int, error) {
	t, err := w.Locate(ctx, app, env)
	if err != nil {
		return 0, err
	}
	n, _ := strconv.Atoi(w.current(ctx, t, replicasField(t, app)))
	return n, nil
}

// SetResources sets the CPU request and the memory request and limit of
// app in env (empty: unchanged). On a Kustomize overlay the Deployment it
// builds from holds them.
func (w *Repo) SetResources(ctx context.Context, app string, env config.Environment, cpu, mem string) (Change, error) {
	return w.SetContainerResources(ctx, app, "", env, cpu, mem)
}

// SetContainerResources sets the resources of one container ("" for the
// workload's main one) of app in env.
func (w *Repo) SetContainerResources(ctx context.Context, app, containerName string, env config.Environment, cpu, mem string) (Change, error) {
	if c, err := w.modeledResources(ctx, app, containerName, env, cpu, mem); !errors.Is(err, errNotModeled) {
		return c, err
	}
	if containerName != "" {
		return Change{}, errs.Invalid("no workload %s with a container %s in %s", md.Code(app), md.Code(containerName), md.Code(env.Name))
	}
	t, overlay, err := w.resourcesTarget(ctx, app, env)
	if err != nil {
		return Change{}, err
	}
	if overlay != "" && !strings.HasPrefix(t.Path, overlay+"/") {
		// The Deployment is the base every environment builds from: the
		// change goes into this environment's overlay, as a patch.
		return w.resourcesPatch(ctx, t, overlay, app, env, cpu, mem)
	}
	if t.Kind == InBuild {
		root := At("spec.values", chartResources(t.builtValues()))
		base, err := dottedPath(root)
		if err != nil {
			return Change{}, err
		}
		sets := map[string]any{}
		if cpu != "" {
			sets[base+".requests.cpu"] = cpu
		}
		if mem != "" {
			sets[base+".requests.memory"], sets[base+".limits.memory"] = mem, mem
		}
		c, err := w.envPatch(ctx, t, "resources", app, env.Name, sets)
		t.Kind, t.field = InHelmRelease, root
		c.Target.Kind, c.Target.field = InHelmRelease, root
		describeResources(&c, t, app, env, cpu, mem, c.Target.Desc)
		return c, err
	}
	root := resourcesRoot(t, app)
	if t.Kind == InValues || t.Kind == InHelmRelease || t.Kind == InApplication {
		values, err := w.valuesNode(ctx, t)
		if err != nil {
			return Change{}, err
		}
		root = At(valuesRoot(t.Kind), chartResources(values))
		t.field = root
	}
	var edits []edit
	if cpu != "" {
		edits = append(edits, edit{doc: t.Doc, field: At(root, "requests.cpu"), value: cpu})
	}
	if mem != "" {
		edits = append(edits, edit{doc: t.Doc, field: At(root, "requests.memory"), value: mem},
			edit{doc: t.Doc, field: At(root, "limits.memory"), value: mem})
	}
	c, err := w.change(ctx, t, "resources", app, env.Name, edits)
	if overlay != "" {
		c.Overlays = []string{overlay}
	}
	describeResources(&c, t, app, env, cpu, mem, t.Desc)
	return c, err
}

func describeResources(c *Change, t Target, app string, env config.Environment, cpu, mem, where string) {
	var what []string
	if cpu != "" {
		what = append(what, "CPU request "+md.Code(cpu))
	}
	if mem != "" {
		what = append(what, "memory "+md.Code(mem))
	}
	c.Title = fmt.Sprintf("Set %s resources in %s", app, env.Name)
	c.Summary = fmt.Sprintf("Sets %s of %s in %s, in %s.", strings.Join(what, " and "), md.Code(app), md.Code(env.Name), where)
	c.Expect = append(c.Expect, resourcesExpect(t, app, cpu, mem)...)
}

// resourcesExpect: the built Deployment's container has the resources, or
// the release's values hold them.
func resourcesExpect(t Target, app, cpu, mem string) []Expect {
	var out []Expect
	switch t.Kind {
	case InValues:
		return nil // a chart of this repository: its render is checked by the preflight
	case InHelmRelease, InApplication:
		root := resourcesRoot(t, app)
		if cpu != "" {
			out = append(out, Expect{Kind: kindOf(t.Kind), Name: t.Name, What: "the CPU request", Want: cpu,
				Get: func(o map[string]any) string { return lookupString(o, At(root, "requests.cpu")) }})
		}
		if mem != "" {
			out = append(out, Expect{Kind: kindOf(t.Kind), Name: t.Name, What: "the memory limit", Want: mem,
				Get: func(o map[string]any) string { return lookupString(o, At(root, "limits.memory")) }})
		}
		return out
	}
	get := func(field string) func(o map[string]any) string {
		return func(o map[string]any) string {
			containers, _ := lookup(o, At("spec.template.spec.containers")).([]any)
			for _, c := range containers {
				if lookupString(c, At("name")) == app || len(containers) == 1 {
					return lookupString(c, At("resources", field))
				}
			}
			return ""
		}
	}
	if cpu != "" {
		out = append(out, Expect{Kind: "Deployment", Name: app, What: "the CPU request", Want: cpu, Get: get("requests.cpu")})
	}
	if mem != "" {
		out = append(out, Expect{Kind: "Deployment", Name: app, What: "the memory limit", Want: mem, Get: get("limits.memory")})
	}
	return out
}

// resourcesPatch writes, or edits, the overlay's patch of the base
// Deployment's resources, and lists a new one in the overlay's
// kustomization.
func (w *Repo) resourcesPatch(ctx context.Context, base Target, overlay, app string, env config.Environment, cpu, mem string) (Change, error) {
	name, err := w.containerName(ctx, base, app)
	if err != nil {
		return Change{}, err
	}
	patch := path.Join(overlay, app+"-resources.yaml")
	root := At("spec.template.spec.containers", where{"name", name}, "resources")
	var edits []edit
	if cpu != "" {
		edits = append(edits, edit{field: At(root, "requests.cpu"), value: cpu})
	}
	if mem != "" {
		edits = append(edits, edit{field: At(root, "requests.memory"), value: mem}, edit{field: At(root, "limits.memory"), value: mem})
	}
	if p, err := w.Files.Existing(ctx, patch); err != nil {
		return Change{}, err
	} else if p != "" {
		t := Target{Kind: InDeployment, Name: app, Path: patch, Desc: "the overlay's patch " + md.Code(patch)}
		c, err := w.change(ctx, t, "resources", app, env.Name, edits)
		describeResources(&c, t, app, env, cpu, mem, t.Desc)
		return c, err
	}
	resources := map[string]any{}
	requests := map[string]any{}
	if cpu != "" {
		requests["cpu"] = cpu
	}
	if mem != "" {
		requests["memory"] = mem
		resources["limits"] = map[string]any{"memory": mem}
	}
	resources["requests"] = requests
	content, err := providers.Encode([]providers.Object{{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": app},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{
			map[string]any{"name": name, "resources": resources}}}}},
	}})
	if err != nil {
		return Change{}, err
	}
	kpath, err := w.Files.Existing(ctx, kustfile.In(overlay)...)
	if err != nil || kpath == "" {
		return Change{}, errs.Invalid("no kustomization in %s to add the patch to", md.Code(overlay))
	}
	ksrc, err := w.Files.Read(ctx, kpath)
	if err != nil {
		return Change{}, err
	}
	kust, err := yamledit.AppendValue(ksrc, 0, At("patches"), map[string]string{"path": path.Base(patch)})
	if err != nil {
		return Change{}, &preflight.Error{Problems: []preflight.Problem{{File: kpath, Err: err.Error()}}}
	}
	c := Change{Verb: "resources", App: app, Env: env.Name,
		Target:    Target{Kind: InDeployment, Name: app, Path: patch, Desc: fmt.Sprintf("a new patch %s of the overlay, since %s is the base every environment builds from", md.Code(patch), md.Code(base.Path))},
		Manifests: []providers.Manifest{{Path: kpath, Env: env.Name, Raw: kust}, {Path: patch, Env: env.Name, Raw: append([]byte(providers.Header), content...)}},
		Overlays:  []string{overlay}, Patches: []string{patch, kpath},
	}
	describeResources(&c, c.Target, app, env, cpu, mem, c.Target.Desc)
	return c, nil
}

// containerName is the name of app's container in a Deployment: the one
// named app, or the first.
func (w *Repo) containerName(ctx context.Context, d Target, app string) (string, error) {
	node, err := w.doc(ctx, d)
	if err != nil {
		return "", err
	}
	var dep struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct{ Name string } `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	if err := node.Decode(&dep); err != nil || len(dep.Spec.Template.Spec.Containers) == 0 {
		return "", errs.Invalid("the Deployment in %s has no containers", md.Code(d.Path))
	}
	for _, c := range dep.Spec.Template.Spec.Containers {
		if c.Name == app {
			return c.Name, nil
		}
	}
	return dep.Spec.Template.Spec.Containers[0].Name, nil
}

// MemoryLimit reads the memory limit of app in env ("" when none is set).
func (w *Repo) MemoryLimit(ctx context.Context, app string, env config.Environment) (string, error) {
	t, overlay, err := w.resourcesTarget(ctx, app, env)
	if err != nil {
		return "", err
	}
	if overlay != "" {
		// The environment's own patch, when it sets the limit, wins.
		patch := Target{Kind: InDeployment, Path: path.Join(overlay, app+"-resources.yaml")}
		if name, err := w.containerName(ctx, t, app); err == nil {
			if v := w.current(ctx, patch, At("spec.template.spec.containers", where{"name", name}, "resources.limits.memory")); v != "" {
				return v, nil
			}
		}
	}
	if t.Kind == InBuild {
		return lookupString(t.built, At("spec.values", chartResources(t.builtValues()), "limits.memory")), nil
	}
	return w.current(ctx, t, At(resourcesRoot(t, app), "limits.memory")), nil
}

// resourcesTarget is where app's resources live, and the overlay to build
// when that is a Deployment an overlay builds from.
func (w *Repo) resourcesTarget(ctx context.Context, app string, env config.Environment) (Target, string, error) {
	t, err := w.Locate(ctx, app, env)
	if err != nil || t.Kind != InOverlay {
		return t, "", err
	}
	// The overlay sets no resources: the Deployment it builds from holds them.
	overlay := pathDir(t.Path)
	d, err := w.deploymentOf(ctx, t.Path, app)
	if err != nil {
		return Target{}, "", err
	}
	return d, overlay, nil
}

// replicasField is where a target holds the replicas.
func replicasField(t Target, app string) []yamledit.Step {
	switch t.Kind {
	case InOverlay:
		return At("replicas", where{"name", app}, "count")
	case InDeployment:
		return At("spec.replicas")
	}
	if t.field != nil {
		return t.field
	}
	return At(valuesRoot(t.Kind), "replicaCount")
}

// resourcesRoot is where a target holds the container's resources.
func resourcesRoot(t Target, app string) []yamledit.Step {
	if t.Kind == InDeployment {
		return At(container(app), "resources")
	}
	if t.field != nil {
		return t.field
	}
	return At(valuesRoot(t.Kind), "resources")
}

// chartResources is where a chart's values set the container's resources:
// beside its image when the image sits in a container mapping (app-template
// controllers.<c>.containers.<c>), at the top level otherwise.
func chartResources(values *yaml.Node) []yamledit.Step {
	if slots := imageSlots(values); len(slots) == 1 && len(slots[0].path) > 1 {
		return At(slots[0].path[:len(slots[0].path)-1], "resources")
	}
	return At("resources")
}

// Version is one versioned field of a target, e.g. an image tag.
type Version struct {
	Label string // for the pull request: "image ghcr.io/acme/web"
	Field []yamledit.Step
	Value string
}

// Versions reads the versions a target pins.
func (w *Repo) Versions(ctx context.Context, t Target) ([]Version, error) {
	d, err := w.doc(ctx, t)
	if err != nil {
		return nil, err
	}
	var out []Version
	add := func(label string, field []yamledit.Step) {
		if v := scalar(d, field); v != "" {
			out = append(out, Version{Label: label, Field: field, Value: v})
		}
	}
	switch t.Kind {
	case InOverlay:
		if imgs := yamledit.Find(d, At("images")); imgs != nil && imgs.Kind == yaml.SequenceNode {
			for _, item := range imgs.Content {
				var img struct {
					Name   string `yaml:"name"`
					NewTag string `yaml:"newTag"`
				}
				if item.Decode(&img) == nil && img.Name != "" && img.NewTag != "" {
					out = append(out, Version{Label: "image " + img.Name, Field: At("images", where{"name", img.Name}, "newTag"), Value: img.NewTag})
				}
			}
		}
	case InValues:
		add("image tag", At("image.tag"))
	case InHelmRelease:
		add("chart version", At("spec.chart.spec.version"))
		add("image tag", At("spec.values.image.tag"))
	case InApplication:
		add("chart version", At("spec.source.targetRevision"))
		add("image tag", At("spec.source.helm.valuesObject.image.tag"))
	case InDeployment:
		add("image", At(container(scalar(d, At("metadata.name"))), "image"))
	}
	return out, nil
}

// Promotion is a change that copies versions between environments, with
// one line per version copied ("- image x: `1.0` → `2.0`").
type Promotion struct {
	Change
	Lines []string
}

// Promote copies to env `to` the versions of app that differ from `from`.
// A promotion with no lines changes nothing.
func (w *Repo) Promote(ctx context.Context, app string, from, to config.Environment) (Promotion, error) {
	if p, err := w.modeledPromote(ctx, app, from, to); !errors.Is(err, errNotModeled) {
		return p, err
	}
	src, err := w.Locate(ctx, app, from)
	if err != nil {
		return Promotion{}, err
	}
	dst, err := w.Locate(ctx, app, to)
	if err != nil {
		return Promotion{}, err
	}
	if src.Kind != dst.Kind {
		return Promotion{}, errs.Invalid("%s is %s in %s but %s in %s: promote it by hand", md.Code(app), src.Desc, md.Code(from.Name), dst.Desc, md.Code(to.Name))
	}
	if src.Kind == InOverlay {
		return w.promoteOverlay(ctx, app, src, dst, from, to)
	}
	have, err := w.Versions(ctx, src)
	if err != nil {
		return Promotion{}, err
	}
	want, err := w.Versions(ctx, dst)
	if err != nil {
		return Promotion{}, err
	}
	current := map[string]string{}
	for _, v := range want {
		current[describe(v.Field)] = v.Value
	}
	var edits []edit
	var lines []string
	for _, h := range have {
		old, ok := current[describe(h.Field)]
		if !ok || old == h.Value {
			continue // nothing to copy, or a version the target does not pin
		}
		edits = append(edits, edit{doc: dst.Doc, field: h.Field, value: h.Value})
		lines = append(lines, fmt.Sprintf("- %s: %s → %s", h.Label, md.Code(old), md.Code(h.Value)))
	}
	if len(edits) == 0 {
		return Promotion{Change: Change{Verb: "promote", App: app, Env: to.Name, Target: dst}}, nil
	}
	c, err := w.change(ctx, dst, "promote", app, to.Name, edits)
	c.Title = fmt.Sprintf("Promote %s from %s to %s", app, from.Name, to.Name)
	c.Summary = fmt.Sprintf("Copies the versions of %s from %s to %s, in %s:\n\n%s", md.Code(app), md.Code(from.Name), md.Code(to.Name), dst.Desc, strings.Join(lines, "\n"))
	return Promotion{Change: c, Lines: lines}, err
}

// promoteOverlay compares the images the two environments' builds run, so
// that images set by patches count too, and sets each differing one in the
// target's overlay.
func (w *Repo) promoteOverlay(ctx context.Context, app string, src, dst Target, from, to config.Environment) (Promotion, error) {
	have, err := w.builtImages(ctx, path.Dir(src.Path), app)
	if err != nil {
		return Promotion{}, err
	}
	want, err := w.builtImages(ctx, path.Dir(dst.Path), app)
	if err != nil {
		return Promotion{}, err
	}
	content, err := w.Files.Read(ctx, dst.Path)
	if err != nil {
		return Promotion{}, err
	}
	var lines []string
	var expect []Expect
	for container, img := range have {
		old, ok := want[container]
		if !ok || old == img {
			continue
		}
		image, err := splitImage(img)
		if err != nil {
			continue // a digest or no tag: not a version to copy
		}
		if content, err = w.setOverlayImage(ctx, dst, content, app, image); err != nil {
			return Promotion{}, err
		}
		oldTag := old
		if o, err := splitImage(old); err == nil && o.Name == image.Name {
			oldTag = o.Tag
		}
		lines = append(lines, fmt.Sprintf("- image %s: %s → %s", image.Name, md.Code(oldTag), md.Code(image.Tag)))
		expect = append(expect, imageExpect(dst, app, image)...)
	}
	sort.Strings(lines)
	if len(lines) == 0 {
		return Promotion{Change: Change{Verb: "promote", App: app, Env: to.Name, Target: dst}}, nil
	}
	c, err := w.changed(ctx, dst, "promote", app, to.Name, content)
	c.Expect = expect
	c.Title = fmt.Sprintf("Promote %s from %s to %s", app, from.Name, to.Name)
	c.Summary = fmt.Sprintf("Copies the versions of %s from %s to %s, in %s:\n\n%s", md.Code(app), md.Code(from.Name), md.Code(to.Name), dst.Desc, strings.Join(lines, "\n"))
	return Promotion{Change: c, Lines: lines}, err
}

// builtImages are the images of the Deployment app in an overlay's build,
// by container name.
func (w *Repo) builtImages(ctx context.Context, overlay, app string) (map[string]string, error) {
	objs, err := preflight.Build(preflight.NewLazyTree(ctx, w.Files, nil), overlay)
	if err != nil {
		return nil, errs.Invalid("%v", err)
	}
	out := map[string]string{}
	for _, o := range objs {
		if r := providers.Object(o).Ref(); r.Kind != "Deployment" || r.Name != app {
			continue
		}
		containers, _ := lookup(o, At("spec.template.spec.containers")).([]any)
		for _, c := range containers {
			out[lookupString(c, At("name"))] = lookupString(c, At("image"))
		}
	}
	return out, nil
}

// splitImage reads "name:tag" (no digest).
func splitImage(s string) (providers.Image, error) {
	if strings.Contains(s, "@") {
		return providers.Image{}, fmt.Errorf("%s is pinned by digest", s)
	}
	i := strings.LastIndex(s, ":")
	if i <= strings.LastIndex(s, "/") {
		return providers.Image{}, fmt.Errorf("%s has no tag", s)
	}
	return providers.Image{Name: s[:i], Tag: s[i+1:]}, nil
}

// CheckQuantity reads a positive resource quantity ("" is allowed: unset).
func CheckQuantity(flag, v string) error {
	if v == "" {
		return nil
	}
	q, err := resource.ParseQuantity(v)
	if err != nil || q.Sign() <= 0 {
		return fmt.Errorf("%s %q is not a positive quantity (like 500m or 512Mi)", flag, v)
	}
	return nil
}

func pathDir(p string) string {
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[:i]
	}
	return "."
}

// Pins reads what the repository pins for app in env, for /status: the
// versions its target holds, or for an overlay the image of each container
// as the environment's build runs it (patches included).
func (w *Repo) Pins(ctx context.Context, app string, env config.Environment) (Target, []Version, error) {
	if t, vs, err := w.modeledPins(ctx, app, env); !errors.Is(err, errNotModeled) {
		return t, vs, err
	}
	t, err := w.Locate(ctx, app, env)
	if err != nil {
		return t, nil, err
	}
	if t.Kind != InOverlay {
		vs, err := w.Versions(ctx, t)
		return t, vs, err
	}
	images, err := w.builtImages(ctx, path.Dir(t.Path), app)
	if err != nil {
		return t, nil, err
	}
	var out []Version
	for _, c := range slices.Sorted(maps.Keys(images)) {
		out = append(out, Version{Label: "image of container " + c, Value: images[c]})
	}
	return t, out, nil
}
