package flux

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/gitops-bot/gitops-bot/providers/shape"
	"github.com/gitops-bot/gitops-bot/providers/yamledit"
	"github.com/gitops-bot/gitops-bot/render"
)

func init() {
	shape.Register(postBuildVariable{})
	shape.Register(releaseValues{})
	shape.Register(kustomizationImages{})
}

// docOf finds the document defining a rendered object in file f.
func docOf(t *shape.Target, f, kind, name string) (shape.Doc, bool) {
	for _, d := range t.Docs.Of(f) {
		if d.Kind() == kind && d.Name() == name {
			return d, true
		}
	}
	return shape.Doc{}, false
}

// releaseValues sets chart values in a HelmRelease's spec.values: the
// release's own document, or an environment's patch of it.
type releaseValues struct{}

func (releaseValues) Name() string { return "helmrelease-values" }

func (releaseValues) Edits(t *shape.Target) []shape.Edit {
	a := shape.HelmApplier(t)
	if a == nil || a.Ref.Kind != "HelmRelease" || a.Tool != "flux" {
		return nil
	}
	name := shape.Str(a.Obj, "metadata", "name")
	var out []shape.Edit
	for _, f := range t.Inputs() {
		for _, d := range t.Docs.Of(f) {
			if d.Kind() != "HelmRelease" || d.Name() != name {
				continue
			}
			// spec.values where the release has them, or where no values
			// file of the repository could take the value.
			if shape.Get(d.Map, "spec", "values") == nil && len(a.Helm.Files) > 0 {
				continue
			}
			for _, set := range shape.ValueSets(t, a.Helm.Values) {
				content, adds, err := shape.SetAll(t.Docs.Raw(f), d.Index, shape.At("spec.values"), set)
				if err != nil {
					continue
				}
				out = append(out, shape.Edit{File: f, Content: content, Adds: adds, Layer: 10,
					Where: fmt.Sprintf("%s of the HelmRelease %s in %s", shape.Code("spec.values."+firstKey(set)), shape.Code(name), shape.Code(f))})
			}
		}
	}
	return out
}

func firstKey(m map[string]any) string {
	for k := range m {
		return k
	}
	return ""
}

// kustomizationImages is a Flux Kustomization's spec.images entry.
type kustomizationImages struct{}

func (kustomizationImages) Name() string { return "kustomization-images" }

func (kustomizationImages) Edits(t *shape.Target) []shape.Edit {
	if t.Ask.Field != shape.Image {
		return nil
	}
	var out []shape.Edit
	for _, a := range t.Chain {
		if a.Ref.Kind != "Kustomization" || a.Tool != "flux" || a.File == "" {
			continue
		}
		d, ok := docOf(t, a.File, "Kustomization", a.Ref.Name)
		if !ok {
			continue
		}
		imgs, _ := shape.Get(d.Map, "spec", "images").([]any)
		for i, e := range imgs {
			entry, _ := e.(map[string]any)
			if entry == nil || !shape.ImageEntry(entry, t.Ask.Old.Name) {
				continue
			}
			content, _, err := shape.SetAll(t.Docs.Raw(a.File), d.Index, shape.At("spec.images", yamledit.Step{Item: i + 1}), shape.ImageValues(entry, t.Ask.Image))
			if err == nil {
				out = append(out, shape.Edit{File: a.File, Content: content, Layer: 3, Where: fmt.Sprintf("the `spec.images` entry %s of the Kustomization %s", shape.Code(fmt.Sprint(entry["name"])), shape.Code(a.Ref.Name))})
			}
		}
	}
	return out
}

// postBuildVariable changes a Flux variable where it is defined, when the
// value asked comes from one: the Kustomization's postBuild.substitute,
// or the ConfigMap of its substituteFrom.
type postBuildVariable struct{}

func (postBuildVariable) Name() string { return "postbuild-variable" }

var variable = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[=-][^}]*)?\}`)

func (postBuildVariable) Edits(t *shape.Target) []shape.Edit {
	var out []shape.Edit
	for _, raw := range rawValues(t) {
		m := variable.FindAllStringSubmatchIndex(raw.text, -1)
		if len(m) != 1 {
			continue // no variable, or several: no single value to give it
		}
		prefix, suffix := raw.text[:m[0][0]], raw.text[m[0][1]:]
		name := raw.text[m[0][2]:m[0][3]]
		if !strings.HasPrefix(raw.want, prefix) || !strings.HasSuffix(raw.want, suffix) || len(raw.want) < len(prefix)+len(suffix) {
			continue
		}
		value := raw.want[len(prefix) : len(raw.want)-len(suffix)]
		out = append(out, defineVariable(t, name, value)...)
	}
	return out
}

type rawValue struct{ text, want string }

// rawValues are the values as the repository writes them (before
// substitution) of the field asked, in the workload's documents.
func rawValues(t *shape.Target) []rawValue {
	var out []rawValue
	for _, wd := range shape.WorkloadDocs(t) {
		var p []yamledit.Step
		want := ""
		switch t.Ask.Field {
		case shape.Image:
			spec := shape.Workloads[t.Object.Kind()]
			p = shape.At(spec, "containers", yamledit.Step{Field: "name", Equals: t.Ask.Container}, "image")
			want = t.Ask.Image.String()
		case shape.Replicas:
			p = shape.At("spec.replicas")
			want = fmt.Sprint(t.Ask.Replicas)
		default:
			continue
		}
		if n := yamledit.Find(wd.Doc.Node, p); n != nil && strings.Contains(n.Value, "${") {
			out = append(out, rawValue{n.Value, want})
		}
	}
	if a := shape.HelmApplier(t); a != nil && a.Ref.Kind == "HelmRelease" {
		for _, f := range t.Inputs() {
			for _, d := range t.Docs.Of(f) {
				if d.Kind() != "HelmRelease" || d.Name() != a.Ref.Name {
					continue
				}
				for _, set := range shape.ValueSets(t, a.Helm.Values) {
					for k, v := range set {
						if n := yamledit.Find(d.Node, shape.At("spec.values", k)); n != nil && strings.Contains(n.Value, "${") {
							out = append(out, rawValue{n.Value, fmt.Sprint(v)})
						}
					}
				}
			}
		}
	}
	return out
}

// defineVariable edits where the variable is defined for the workload's
// Kustomizations: its substitute, else the ConfigMap it is read from.
func defineVariable(t *shape.Target, name, value string) []shape.Edit {
	var out []shape.Edit
	for i := len(t.Chain) - 1; i >= 0; i-- {
		a := t.Chain[i]
		if a.Ref.Kind != "Kustomization" || a.Tool != "flux" || a.Obj == nil {
			continue
		}
		post, _ := shape.Get(a.Obj, "spec", "postBuild").(map[string]any)
		if post == nil {
			continue
		}
		if _, ok := shape.Get(post, "substitute", name).(string); ok || shape.Get(post, "substitute", name) != nil {
			if d, ok := docOf(t, a.File, "Kustomization", a.Ref.Name); ok {
				if content, err := yamledit.Set(t.Docs.Raw(a.File), d.Index, shape.At("spec.postBuild.substitute", name), value); err == nil {
					out = append(out, shape.Edit{File: a.File, Content: content, Layer: 5,
						Where: fmt.Sprintf("the variable %s in the `postBuild.substitute` of the Kustomization %s (%s)", shape.Code(name), shape.Code(a.Ref.Name), shape.Code(a.File))})
				}
			}
			continue
		}
		refs, _ := post["substituteFrom"].([]any)
		for _, r := range refs {
			ref, _ := r.(map[string]any)
			if shape.Str(ref, "kind") != "ConfigMap" {
				continue
			}
			cm := find(t.Env, "ConfigMap", shape.Str(a.Obj, "metadata", "namespace"), shape.Str(ref, "name"))
			if cm == nil || cm.File == "" {
				continue
			}
			if _, ok := shape.Get(cm.Obj, "data", name).(string); !ok {
				continue
			}
			d, ok := docOf(t, cm.File, "ConfigMap", cm.Name())
			if !ok {
				continue
			}
			if content, err := yamledit.Set(t.Docs.Raw(cm.File), d.Index, shape.At("data", name), value); err == nil {
				out = append(out, shape.Edit{File: cm.File, Content: content, Layer: 5,
					Where: fmt.Sprintf("the variable %s in the ConfigMap %s (%s), which the Kustomization %s substitutes", shape.Code(name), shape.Code(cm.Name()), shape.Code(cm.File), shape.Code(a.Ref.Name))})
			}
		}
	}
	return out
}

func find(env *render.Env, kind, ns, name string) *render.Object {
	for i := range env.Objects {
		o := &env.Objects[i]
		if o.Kind() == kind && o.Name() == name && (ns == "" || o.Namespace() == ns) {
			return o
		}
	}
	return nil
}
