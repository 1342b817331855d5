package workload

import (
	"context"
	"fmt"
	"path"
	"sort"

	"gopkg.in/yaml.v3"

	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/kustfile"
	"github.com/gitops-bot/gitops-bot/providers/preflight"
	"github.com/gitops-bot/gitops-bot/providers/yamledit"
)

// An environment whose kustomization builds the application from a shared
// base (and changes it with inline patches, or none) holds nothing of it
// in its own files: the environment's change is a patch file in the
// environment's directory, listed in its kustomization.

// fromBuild finds app in the builds of the roots that have a kustomization.
func (w *Repo) fromBuild(ctx context.Context, app string, roots []string) (Target, bool, error) {
	var found []Target
	for _, root := range roots {
		kpath, err := w.Files.Existing(ctx, kustfile.In(root)...)
		if err != nil {
			return Target{}, false, err
		}
		if kpath == "" {
			continue
		}
		objs, err := preflight.Build(preflight.NewLazyTree(ctx, w.Files, nil), root)
		if err != nil {
			continue // a build that fails is reported where it matters
		}
		for _, o := range objs {
			r := providers.Object(o).Ref()
			release := lookupString(o, At("spec.releaseName"))
			switch {
			case r.Kind == "HelmRelease" && (r.Name == app || release == app):
				found = append(found, Target{Kind: InBuild, Name: r.Name, Path: kpath, built: o,
					Desc: fmt.Sprintf("a patch of the HelmRelease %s in %s, which builds it from a shared base", md.Code(r.Name), md.Code(root))})
			case r.Kind == "Deployment" && r.Name == app:
				// A Deployment from a base: the kustomization is its overlay.
				found = append(found, Target{Kind: InOverlay, Name: app, Path: kpath, Desc: "the overlay " + md.Code(kpath)})
			}
		}
	}
	switch len(found) {
	case 0:
		return Target{}, false, nil
	case 1:
		return found[0], true, nil
	}
	return Target{}, false, errs.Invalid("%s is built in several places: %s; say which by editing it by hand", md.Code(app), descs(found))
}

// builtKind is the kind of an InBuild target's object.
func (t Target) builtKind() string { return providers.Object(t.built).Ref().Kind }

// builtValues is an InBuild HelmRelease's values as a YAML node.
func (t Target) builtValues() *yaml.Node {
	v, _ := lookup(t.built, At("spec.values")).(map[string]any)
	var n yaml.Node
	if v == nil || n.Encode(v) != nil {
		return nil
	}
	return &n
}

// envPatch writes (or edits) the environment's patch of an InBuild target
// so that field (from the object's root) is value, and lists a new patch in
// the environment's kustomization.
func (w *Repo) envPatch(ctx context.Context, t Target, verb, app, env string, sets map[string]any) (Change, error) {
	dir := path.Dir(t.Path)
	ref := providers.Object(t.built).Ref()
	patch := path.Join(dir, ref.Name+"-"+verb+".yaml")
	if p, err := w.Files.Existing(ctx, patch); err != nil {
		return Change{}, err
	} else if p != "" {
		var edits []edit
		for _, k := range sortedKeys(sets) {
			edits = append(edits, edit{field: At(k), value: sets[k]})
		}
		pt := Target{Kind: InBuild, Name: ref.Name, Path: patch, built: t.built, Desc: "the environment's patch " + md.Code(patch)}
		c, err := w.change(ctx, pt, verb, app, env, edits)
		c.Overlays, c.Patches = []string{dir}, []string{patch}
		return c, err
	}
	obj := providers.Object{"apiVersion": ref.APIVersion, "kind": ref.Kind, "metadata": map[string]any{"name": ref.Name}}
	if ref.Namespace != "" {
		obj["metadata"].(map[string]any)["namespace"] = ref.Namespace
	}
	for _, k := range sortedKeys(sets) {
		setPath(obj, At(k), sets[k])
	}
	content, err := providers.Encode([]providers.Object{obj})
	if err != nil {
		return Change{}, err
	}
	ksrc, err := w.Files.Read(ctx, t.Path)
	if err != nil {
		return Change{}, err
	}
	kust, err := yamledit.AppendValue(ksrc, 0, At("patches"), map[string]string{"path": path.Base(patch)})
	if err != nil {
		return Change{}, &preflight.Error{Problems: []preflight.Problem{{File: t.Path, Err: err.Error()}}}
	}
	return Change{Verb: verb, App: app, Env: env,
		Target:    Target{Kind: InBuild, Name: ref.Name, Path: patch, built: t.built, Desc: fmt.Sprintf("a new patch %s of the %s %s, which %s builds from a shared base", md.Code(patch), ref.Kind, md.Code(ref.Name), md.Code(dir))},
		Manifests: []providers.Manifest{{Path: t.Path, Env: env, Raw: kust}, {Path: patch, Env: env, Raw: append([]byte(providers.Header), content...)}},
		Overlays:  []string{dir}, Patches: []string{patch, t.Path},
	}, nil
}

// setPath sets value at p in a map, making the maps on the way; a list
// step picks (or adds) the item whose field equals.
func setPath(m map[string]any, p []yamledit.Step, value any) {
	cur := m
	for i, s := range p {
		last := i == len(p)-1
		if s.Key == "" {
			continue // list steps are written by the caller as keys
		}
		if last {
			cur[s.Key] = value
			return
		}
		next, ok := cur[s.Key].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[s.Key] = next
		}
		cur = next
	}
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// dottedPath turns steps of keys into the dotted form the patch sets use.
func dottedPath(p []yamledit.Step) (string, error) {
	if d := dotted(p); d != "" {
		return d, nil
	}
	return "", errs.Invalid("the value sits in a list (%s); change it by hand", describe(p))
}
