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
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/shape"
	"github.com/gitops-bot/gitops-bot/render"
)

// errNotModeled: the model does not find the workload; the layout's
// own rules (Locate) take over.
var errNotModeled = errors.New("not in the model")

// modeled resolves app in env's render and makes the edit the render
// confirms. It returns errNotModeled when the render has no such
// workload, or no shape proposes an edit of it.
func (w *Repo) modeled(ctx context.Context, verb, app string, env config.Environment, ask shape.Ask, image string, adjust func(*shape.Ask)) (Change, Workload, error) {
	m, wl, err := w.resolveOne(ctx, app, env, image)
	if err != nil {
		return Change{}, wl, err
	}
	if ask.Field != shape.Replicas {
		name, err := pickContainer(wl, ask.Container, image)
		if err != nil {
			return Change{}, wl, err
		}
		ask.Container = name
		s, _ := shape.Container(wl.Object.Obj, name)["image"].(string)
		ask.Old = shape.ParseImg(s)
	}
	if ask.Field == shape.Replicas {
		if why := scaleRefusal(wl); why != "" {
			return Change{}, wl, errs.Invalid("%s", why)
		}
	}
	if adjust != nil {
		adjust(&ask)
	}
	c, err := w.chosen(ctx, m, verb, app, env, wl, ask)
	return c, wl, err
}

// resolveOne is the one workload app names in env's render, checked to
// be this repository's to change.
func (w *Repo) resolveOne(ctx context.Context, app string, env config.Environment, image string) (*Model, Workload, error) {
	m, err := w.Model(ctx)
	if err != nil {
		logctx.From(ctx).Warn("render model failed", "err", err)
		return nil, Workload{}, errNotModeled
	}
	found, err := m.Resolve(app, env, image)
	if err != nil {
		return nil, Workload{}, err
	}
	switch {
	case len(found) == 0:
		w.nearest = m.Nearest(app, env.Name)
		return nil, Workload{}, errNotModeled
	case len(found) > 1:
		return nil, Workload{}, ambiguous(app, env.Name, found)
	}
	wl := found[0]
	if w.layoutValues(ctx, app, env, wl) {
		return nil, wl, errNotModeled
	}
	// The cluster, when the bot can ask it, has the last word on what
	// applies the workload (another repository, both tools, no GitOps).
	mine := []Target{{Path: wl.Object.File}}
	for _, a := range wl.Chain() {
		mine = append(mine, Target{Path: path.Join(a.Source, "kustomization.yaml")})
	}
	if _, err := w.ownedPath(ctx, wl.Object.Name(), env, mine); err != nil {
		return nil, wl, err
	}
	return m, wl, nil
}

// chosen is the change of the edit the render confirms for obj (a
// workload, or the autoscaler of one).
func (w *Repo) chosen(ctx context.Context, m *Model, verb, app string, env config.Environment, obj Workload, ask shape.Ask) (Change, error) {
	edit, tried, err := m.Choose(ctx, obj, ask)
	if err != nil {
		return Change{}, err
	}
	if edit.File == "" {
		if len(tried) == 0 {
			return Change{}, errNotModeled
		}
		return Change{}, errs.Invalid("I found %s in %s, but no edit gives it what you asked and changes nothing else. %s", obj.Describe(), md.Code(env.Name), Failed(tried))
	}
	c := Change{Verb: verb, App: app, Env: env.Name,
		Target: Target{Kind: "model", Name: obj.Object.Name(), Path: edit.File, Desc: edit.Where},
	}
	for _, f := range editFiles(edit) {
		c.Manifests = append(c.Manifests, providers.Manifest{Path: f.Path, Env: env.Name, Raw: f.Content})
		c.Patches = append(c.Patches, f.Path) // judged by the render, not as whole objects
	}
	c.Summary = whyThere(edit, tried) + "\n\n" + checked(m, obj)
	return c, nil
}

// whyThere names the layers the edit wins over: places that set the
// value too, where an edit would not take effect.
func whyThere(e shape.Edit, tried []Attempt) string {
	var lost []string
	for _, a := range tried {
		if a.Overridden && a.Edit.File != e.File {
			lost = append(lost, a.Edit.Where)
		}
	}
	switch {
	case len(lost) == 0:
		return ""
	case len(lost) > 3:
		return fmt.Sprintf(" It wins over %s and %d more places that set it.", strings.Join(lost[:3], ", "), len(lost)-3)
	}
	return fmt.Sprintf(" It wins over %s, which set it too.", strings.Join(lost, ", "))
}

// pickContainer is the container a command changes: the one named, the
// only one, the one running image's repository, or the one named like
// the workload.
func pickContainer(wl Workload, named, image string) (string, error) {
	cs := shape.Containers(wl.Object.Obj)
	var all []string
	for _, c := range cs {
		n, _ := c["name"].(string)
		all = append(all, n)
		if named != "" && n == named {
			return n, nil
		}
	}
	if named != "" {
		return "", errs.Invalid("%s has no container %s (it has %s)", wl.Describe(), md.Code(named), md.Code(strings.Join(all, ", ")))
	}
	if len(cs) == 1 {
		return all[0], nil
	}
	if image != "" {
		want := shape.ParseImg(image).Name
		var match []string
		for _, c := range cs {
			if s, _ := c["image"].(string); shape.ParseImg(s).Name == want {
				match = append(match, c["name"].(string))
			}
		}
		if len(match) == 1 {
			return match[0], nil
		}
	}
	for _, n := range all {
		if n == wl.Object.Name() {
			return n, nil
		}
	}
	if len(cs) == 0 {
		return "", errs.Invalid("%s has no containers", wl.Describe())
	}
	return all[0], nil
}

// scaler is what controls a workload's replicas other than its own
// field: an HPA, a KEDA ScaledObject, a Flagger Canary.
func scaler(env *render.Env, wl Workload) (render.Object, bool) {
	for _, o := range env.Objects {
		var ref map[string]any
		switch o.Kind() {
		case "HorizontalPodAutoscaler", "ScaledObject":
			ref, _ = shape.Get(o.Obj, "spec", "scaleTargetRef").(map[string]any)
		case "Canary":
			ref, _ = shape.Get(o.Obj, "spec", "targetRef").(map[string]any)
		default:
			continue
		}
		kind, _ := ref["kind"].(string)
		if kind == "" {
			kind = "Deployment"
		}
		if ref["name"] == wl.Object.Name() && kind == wl.Object.Kind() && o.Namespace() == wl.Object.Namespace() {
			return o, true
		}
	}
	return render.Object{}, false
}

// scaleRefusal says why a workload is not scaled by its replicas, or "".
func scaleRefusal(wl Workload) string {
	switch wl.Object.Kind() {
	case "CronJob", "Job":
		return fmt.Sprintf("%s runs to completion and has no replicas to scale", wl.Describe())
	case "DaemonSet":
		return fmt.Sprintf("%s runs one pod on each node; it does not scale by replicas", wl.Describe())
	case "Pod":
		return fmt.Sprintf("%s is a bare Pod; it does not scale", wl.Describe())
	}
	o, ok := scaler(wl.Env, wl)
	if !ok {
		return ""
	}
	min, max := shape.Get(o.Obj, "spec", "minReplicas"), shape.Get(o.Obj, "spec", "maxReplicas")
	if o.Kind() == "ScaledObject" {
		min, max = shape.Get(o.Obj, "spec", "minReplicaCount"), shape.Get(o.Obj, "spec", "maxReplicaCount")
	}
	if o.Kind() == "Canary" {
		return fmt.Sprintf("the Flagger Canary %s controls the replicas of %s; scale it through its autoscaler", md.Code(o.Name()), wl.Describe())
	}
	if min == nil {
		min = 1
	}
	return fmt.Sprintf("the %s %s (from %s) scales %s between %v and %v replicas; change those with `--min N --max M`", o.Kind(), md.Code(o.Name()), md.Code(o.File), wl.Describe(), min, max)
}

func (w *Repo) modeledImage(ctx context.Context, app string, env config.Environment, ask shape.Ask, image providers.Image) (Change, Workload, error) {
	c, wl, err := w.modeled(ctx, "set-image", app, env, ask, image.Name, func(a *shape.Ask) {
		// The repository's spelling of the same image name is kept.
		if normal(a.Image.Name) == normal(a.Old.Name) {
			a.Image.Name = a.Old.Name
			image.Name = a.Old.Name
		}
	})
	if err != nil {
		return c, wl, err
	}
	c.Title = fmt.Sprintf("Set %s image to %s in %s", app, image.String(), env.Name)
	c.Summary = fmt.Sprintf("Sets the image of %s in %s to %s, in %s.", md.Code(app), md.Code(env.Name), md.Code(image.String()), c.Target.Desc) + c.Summary
	if old := oldDigest(wl, c); old != "" && image.Digest == "" {
		c.Summary += fmt.Sprintf("\n\nThe image was pinned by digest (%s); the new one is pinned by its tag only.", md.Code(old))
	}
	return c, wl, nil
}

func oldDigest(wl Workload, c Change) string {
	for _, ct := range shape.Containers(wl.Object.Obj) {
		if s, _ := ct["image"].(string); strings.Contains(s, "@") {
			return shape.ParseImg(s).Digest
		}
	}
	return ""
}

// normal is an image name as a registry resolves it.
func normal(name string) string {
	name = strings.TrimPrefix(strings.TrimPrefix(name, "docker.io/"), "index.docker.io/")
	return strings.TrimPrefix(name, "library/")
}

func (w *Repo) modeledScale(ctx context.Context, app string, env config.Environment, n int) (Change, error) {
	c, _, err := w.modeled(ctx, "scale", app, env, shape.Ask{Field: shape.Replicas, Replicas: n}, "", nil)
	if err != nil {
		return c, err
	}
	c.Title = fmt.Sprintf("Scale %s to %d in %s", app, n, env.Name)
	c.Summary = fmt.Sprintf("Sets %s to %d replicas in %s, in %s.", md.Code(app), n, md.Code(env.Name), c.Target.Desc) + c.Summary
	return c, nil
}

func (w *Repo) modeledResources(ctx context.Context, app, container string, env config.Environment, cpu, mem string) (Change, error) {
	res := map[string]string{}
	if cpu != "" {
		res["requests.cpu"] = cpu
	}
	if mem != "" {
		res["requests.memory"], res["limits.memory"] = mem, mem
	}
	c, _, err := w.modeled(ctx, "resources", app, env, shape.Ask{Field: shape.Resources, Container: container, Resources: res}, "", nil)
	if err != nil {
		return c, err
	}
	c.Title = fmt.Sprintf("Set %s resources in %s", app, env.Name)
	c.Summary = fmt.Sprintf("Sets the resources of %s in %s (%s), in %s.", md.Code(app), md.Code(env.Name), resourcesText(cpu, mem), c.Target.Desc) + c.Summary
	return c, nil
}

func resourcesText(cpu, mem string) string {
	var parts []string
	if cpu != "" {
		parts = append(parts, "CPU request "+cpu)
	}
	if mem != "" {
		parts = append(parts, "memory request and limit "+mem)
	}
	return strings.Join(parts, ", ")
}

// checked says what the render checked, for the pull request.
func checked(m *Model, wl Workload) string {
	what := "each environment as its controllers render it"
	t := &shape.Target{Chain: wl.Chain()}
	if a := shape.HelmApplier(t); a != nil {
		what = fmt.Sprintf("the chart %s %s with the values of %s, and each environment", md.Code(a.Helm.Chart), md.Code(a.Helm.Version), md.Code(a.Ref.Name))
	}
	return fmt.Sprintf("Checked by rendering %s: after this change the %s %s has what was asked, and nothing else changes in any of the %d environments.", what, wl.Object.Kind(), md.Code(wl.Object.Name()), len(m.specs))
}

// modeledPromote gives app in `to` the images it runs in `from`: each
// container whose rendered image differs is changed in the layer of `to`
// that wins, as /set-image would. It returns errNotModeled when either
// environment's render lacks the workload, or its images are the same
// (other versions, a chart's, are the layout rules' to promote).
func (w *Repo) modeledPromote(ctx context.Context, app string, from, to config.Environment) (Promotion, error) {
	m, err := w.Model(ctx)
	if err != nil {
		return Promotion{}, errNotModeled
	}
	src, err := m.Resolve(app, from, "")
	if err != nil {
		return Promotion{}, err
	}
	dst, err := m.Resolve(app, to, "")
	if err != nil {
		return Promotion{}, err
	}
	if len(src) == 0 || len(dst) == 0 {
		w.nearest = m.Nearest(app, to.Name)
	}
	if len(src) != 1 || len(dst) != 1 {
		if len(src) > 1 {
			return Promotion{}, ambiguous(app, from.Name, src)
		}
		if len(dst) > 1 {
			return Promotion{}, ambiguous(app, to.Name, dst)
		}
		return Promotion{}, errNotModeled
	}
	p := Promotion{Change: Change{Verb: "promote", App: app, Env: to.Name, Target: Target{Kind: "model", Name: dst[0].Object.Name()}}}
	written := map[string]bool{}
	var wheres []string
	for _, c := range shape.Containers(dst[0].Object.Obj) {
		name, _ := c["name"].(string)
		have, _ := shape.Container(src[0].Object.Obj, name)["image"].(string)
		cur, _ := c["image"].(string)
		if have == "" || have == cur {
			continue
		}
		ask := shape.Ask{Field: shape.Image, Container: name, Image: shape.ParseImg(have), Old: shape.ParseImg(cur)}
		edit, tried, err := m.Choose(ctx, dst[0], ask)
		if err != nil {
			return Promotion{}, err
		}
		if edit.File == "" {
			return Promotion{}, errs.Invalid("%s runs %s in %s, but no edit of %s gives it that and changes nothing else. %s", md.Code(app), md.Code(have), md.Code(from.Name), md.Code(to.Name), Failed(tried))
		}
		for _, f := range editFiles(edit) {
			if written[f.Path] {
				return Promotion{}, errs.Invalid("promoting several containers of %s edits %s twice; promote them one by one with /set-image", md.Code(app), md.Code(f.Path))
			}
			written[f.Path] = true
			p.Manifests = append(p.Manifests, providers.Manifest{Path: f.Path, Env: to.Name, Raw: f.Content})
			p.Patches = append(p.Patches, f.Path)
		}
		if a, b := shape.ParseImg(cur), shape.ParseImg(have); a.Name == b.Name && a.Digest == "" && b.Digest == "" {
			p.Lines = append(p.Lines, fmt.Sprintf("- image %s: %s → %s", a.Name, md.Code(a.Tag), md.Code(b.Tag)))
		} else {
			p.Lines = append(p.Lines, fmt.Sprintf("- image of %s: %s → %s", md.Code(name), md.Code(cur), md.Code(have)))
		}
		wheres = append(wheres, edit.Where)
	}
	if len(p.Lines) == 0 {
		if shape.HelmApplier(&shape.Target{Chain: dst[0].Chain()}) == nil {
			return p, nil // the same images, and no chart whose version could differ
		}
		return Promotion{}, errNotModeled
	}
	p.Title = fmt.Sprintf("Promote %s from %s to %s", app, from.Name, to.Name)
	p.Summary = fmt.Sprintf("Promotes %s from %s to %s:\n\n%s\n\nChanged in %s.\n\n%s", md.Code(app), md.Code(from.Name), md.Code(to.Name),
		strings.Join(p.Lines, "\n"), strings.Join(wheres, "; "), checked(m, dst[0]))
	return p, nil
}

// layoutValues: the configuration's layout names the application's chart
// and the chart has a values-ENV.yaml the render does not read (an
// Application created with --values, say). The configuration is the
// owner's word on where the environment's values live, so the layout's
// rules make the change there.
func (w *Repo) layoutValues(ctx context.Context, app string, env config.Environment, wl Workload) bool {
	l := w.Config.Layout
	dir, err := l.Path(l.Chart, app, "")
	if l.Chart == "" || err != nil {
		return false
	}
	file := path.Join(dir, "values-"+env.Name+".yaml")
	if p, _ := w.Files.Existing(ctx, file); p == "" {
		return false
	}
	a := shape.HelmApplier(&shape.Target{Chain: wl.Chain()})
	if a == nil || strings.Trim(a.Source, "/") != dir {
		return false
	}
	for _, f := range a.Helm.Files {
		if f == file {
			return false
		}
	}
	return true
}

// modeledPins are what env's render runs of app: each container's image
// and, where a chart renders it, the chart's version.
func (w *Repo) modeledPins(ctx context.Context, app string, env config.Environment) (Target, []Version, error) {
	m, wl, err := w.resolveOne(ctx, app, env, "")
	if err != nil {
		return Target{}, nil, err
	}
	// Where it is pinned: the kustomization of the directory its applier
	// renders (where an overlay sets it), else its own file, else the
	// applier's (a HelmRelease's, an Application's).
	chain := wl.Chain()
	file := ""
	for _, n := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if p := path.Join(chain[len(chain)-1].Source, n); file == "" && m.tree.Exists(p) {
			file = p
		}
	}
	if file == "" {
		file = wl.Object.File
	}
	for i := len(chain) - 1; file == "" && i >= 0; i-- {
		file = chain[i].File
	}
	t := Target{Kind: "model", Name: wl.Object.Name(), Path: file, Desc: wl.Describe()}
	var out []Version
	if a := shape.HelmApplier(&shape.Target{Chain: chain}); a != nil && a.Helm.Version != "" {
		out = append(out, Version{Label: "chart " + a.Helm.Chart, Value: a.Helm.Version})
	}
	for _, c := range shape.Containers(wl.Object.Obj) {
		name, _ := c["name"].(string)
		image, _ := c["image"].(string)
		out = append(out, Version{Label: "image of container " + name, Value: image})
	}
	return t, out, nil
}
