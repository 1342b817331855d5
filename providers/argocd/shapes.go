package argocd

import (
	"fmt"
	"path"
	"sort"

	"github.com/gitops-bot/gitops-bot/providers/shape"
	"github.com/gitops-bot/gitops-bot/providers/yamledit"
)

func init() {
	shape.Register(applicationOverrides{})
	shape.Register(overrideFile{})
}

// sourcePaths are where an Application document's sources sit:
// spec.source, or each item of spec.sources.
func sourcePaths(d shape.Doc) [][]yamledit.Step {
	if l, _ := shape.Get(d.Map, "spec", "sources").([]any); len(l) > 0 {
		var out [][]yamledit.Step
		for i := range l {
			out = append(out, shape.At("spec.sources", yamledit.Step{Item: i + 1}))
		}
		return out
	}
	if shape.Get(d.Map, "spec", "source") != nil {
		return [][]yamledit.Step{shape.At("spec.source")}
	}
	return nil
}

func sourceAt(d shape.Doc, p []yamledit.Step) map[string]any {
	var cur any = d.Map
	for _, s := range p {
		switch {
		case s.Key != "":
			m, _ := cur.(map[string]any)
			cur = m[s.Key]
		case s.Item > 0:
			l, _ := cur.([]any)
			if s.Item > len(l) {
				return nil
			}
			cur = l[s.Item-1]
		}
	}
	m, _ := cur.(map[string]any)
	return m
}

// applicationOverrides are an Application's own overrides of its source:
// kustomize images and replicas, Helm valuesObject and parameters.
type applicationOverrides struct{}

func (applicationOverrides) Name() string { return "application-overrides" }

func (applicationOverrides) Edits(t *shape.Target) []shape.Edit {
	var out []shape.Edit
	for _, a := range t.Chain {
		if a.Ref.Kind != "Application" || a.Tool != "argocd" || a.File == "" {
			continue
		}
		for _, d := range t.Docs.Of(a.File) {
			if d.Kind() != "Application" || d.Name() != a.Ref.Name {
				continue
			}
			for _, sp := range sourcePaths(d) {
				src := sourceAt(d, sp)
				out = append(out, overrides(t, a.File, d.Index, sp, src, fmt.Sprintf("the Application %s (%s), which Argo CD applies over its source", shape.Code(a.Ref.Name), shape.Code(a.File)), a.Helm != nil, 0)...)
			}
		}
	}
	return out
}

// overrides proposes edits of a source's kustomize and helm sections at
// base in document doc of file f.
func overrides(t *shape.Target, f string, doc int, base []yamledit.Step, src map[string]any, where string, helm bool, boost int) []shape.Edit {
	raw := t.Docs.Raw(f)
	var out []shape.Edit
	add := func(content []byte, adds bool, what string, layer int) {
		out = append(out, shape.Edit{File: f, Content: content, Adds: adds, Layer: layer + boost, Where: what + " of " + where})
	}
	k := obj(src, "kustomize")
	switch t.Ask.Field {
	case shape.Image:
		for i, e := range strs(k["images"]) {
			im := ParseImage(e)
			if !(im.NewName == t.Ask.Old.Name || im.NewName == "" && im.Name == t.Ask.Old.Name) {
				continue
			}
			v := t.Ask.Image.String()
			if im.NewName != "" || t.Ask.Image.Name != im.Name {
				v = im.Name + "=" + t.Ask.Image.String()
			}
			if c, err := yamledit.Set(raw, doc, shape.At(base, "kustomize.images", yamledit.Step{Item: i + 1}), v); err == nil {
				add(c, false, "the kustomize image override "+shape.Code(e), 3)
			}
		}
		// A new override only where the Application already overrides its
		// kustomization: elsewhere the repository's own files are the place.
		if !helm && k != nil && len(strs(k["images"])) == 0 {
			v := t.Ask.Old.Name + "=" + t.Ask.Image.String()
			if c, err := yamledit.Append(raw, doc, shape.At(base, "kustomize.images"), v); err == nil {
				add(c, true, "a new kustomize image override", 3)
			}
		}
	case shape.Replicas:
		for i, r := range list(k["replicas"]) {
			if n, _ := r["name"].(string); n != t.Object.Name() {
				continue
			}
			if c, err := yamledit.Set(raw, doc, shape.At(base, "kustomize.replicas", yamledit.Step{Item: i + 1}, "count"), t.Ask.Replicas); err == nil {
				add(c, false, "the kustomize replicas override", 3)
			}
		}
	}
	a := shape.HelmApplier(t)
	if !helm || a == nil {
		return out
	}
	h := obj(src, "helm")
	for _, set := range shape.ValueSets(t, a.Helm.Values) {
		keys := make([]string, 0, len(set))
		for key := range set {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		// A parameter that sets the key wins over every values layer.
		params := list(h["parameters"])
		done := false
		for _, key := range keys {
			for i, p := range params {
				if p["name"] == key {
					if c, err := yamledit.Set(raw, doc, shape.At(base, "helm.parameters", yamledit.Step{Item: i + 1}, "value"), fmt.Sprint(set[key])); err == nil {
						add(c, false, "the Helm parameter "+shape.Code(key), 11)
						done = true
					}
				}
			}
		}
		if done {
			continue
		}
		// valuesObject, when the Application has one, or when no values
		// file of the repository could take the value (a chart from outside).
		if h["valuesObject"] == nil && len(a.Helm.Files) > 0 {
			continue
		}
		if c, adds, err := shape.SetAll(raw, doc, shape.At(base, "helm.valuesObject"), set); err == nil {
			add(c, adds, shape.Code("helm.valuesObject."+keys[0]), 10)
		}
	}
	return out
}

// overrideFile is a source's .argocd-source.yaml or
// .argocd-source-APP.yaml, where Argo CD's own tools (the Image Updater,
// `argocd app set`) write parameter overrides.
type overrideFile struct{}

func (overrideFile) Name() string { return "argocd-source-file" }

func (overrideFile) Edits(t *shape.Target) []shape.Edit {
	var out []shape.Edit
	for _, a := range t.Chain {
		if a.Ref.Kind != "Application" || a.Tool != "argocd" {
			continue
		}
		for _, f := range a.Inputs {
			if b := path.Base(f); b != ".argocd-source.yaml" && b != ".argocd-source-"+a.Ref.Name+".yaml" {
				continue
			}
			docs := t.Docs.Of(f)
			if len(docs) == 0 || docs[0].Map == nil {
				continue
			}
			out = append(out, overrides(t, f, docs[0].Index, nil, docs[0].Map, shape.Code(f)+", Argo CD's parameter override file, which wins over the Application", a.Helm != nil, 10)...)
		}
	}
	return out
}
