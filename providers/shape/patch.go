package shape

import (
	"bytes"
	"fmt"
	"path"

	"gopkg.in/yaml.v3"
)

func init() { Register(newPatch{}) }

// newPatch writes a strategic-merge patch of the workload in the
// kustomization that applies it, and lists it there: the change of one
// environment whose workload comes from a base others build from too.
type newPatch struct{}

func (newPatch) Name() string { return "new-patch" }

var patchNames = map[Field]string{Image: "set-image", Replicas: "scale", Resources: "resources", Bounds: "bounds"}

func (newPatch) Edits(t *Target) []Edit {
	_, own := kustomizations(t)
	if own == "" || t.Object.File == "" || path.Dir(t.Object.File) == path.Dir(own) {
		return nil // no kustomization of its own, or the workload is its own file
	}
	var src Doc
	found := false
	for _, d := range t.Docs.Of(t.Object.File) {
		if SameObject(d, t.Object) {
			src, found = d, true
		}
	}
	if !found {
		return nil
	}
	name := src.Name() + "-" + patchNames[t.Ask.Field] + ".yaml"
	file := path.Join(path.Dir(own), name)
	if t.Tree.Exists(file) {
		return nil // an earlier patch: the workload shape edits it once listed
	}
	meta := map[string]any{"name": src.Name()}
	if ns := Str(src.Map, "metadata", "namespace"); ns != "" {
		meta["namespace"] = ns
	}
	var spec map[string]any
	switch t.Ask.Field {
	case Replicas:
		spec = map[string]any{"replicas": t.Ask.Replicas}
	case Bounds:
		spec = map[string]any{}
		for k, v := range t.Ask.Bounds {
			spec[k] = v
		}
	case Image, Resources:
		c := map[string]any{"name": t.Ask.Container}
		if t.Ask.Field == Image {
			c["image"] = t.Ask.Image.String()
		} else {
			res := map[string]any{}
			for k, v := range t.Ask.Resources {
				group, key := splitKey(k)
				g, _ := res[group].(map[string]any)
				if g == nil {
					g = map[string]any{}
					res[group] = g
				}
				g[key] = v
			}
			c["resources"] = res
		}
		spec = nest(Workloads[t.Object.Kind()], map[string]any{"containers": []any{c}})["spec"].(map[string]any)
	}
	patch := map[string]any{"apiVersion": Str(src.Map, "apiVersion"), "kind": src.Kind(), "metadata": meta, "spec": spec}
	body, err := yaml.Marshal(patch)
	if err != nil {
		return nil
	}
	d := t.Docs.Of(own)[0]
	kust, err := appendPatch(t.Docs.Raw(own), d.Index, name)
	if err != nil {
		return nil
	}
	return []Edit{{File: file, Content: ordered(patch, body), Adds: true, Layer: 1,
		Where: fmt.Sprintf("a new patch %s listed in %s (the %s comes from %s, a base other environments build from too)", Code(file), Code(own), src.Kind(), Code(t.Object.File)),
		Also:  []File{{Path: own, Content: kust}}}}
}

func splitKey(k string) (string, string) {
	for i := range k {
		if k[i] == '.' {
			return k[:i], k[i+1:]
		}
	}
	return k, ""
}

// nest puts value under the dotted path ("spec.template.spec").
func nest(dotted string, value map[string]any) map[string]any {
	parts := splitAll(dotted)
	out := value
	for i := len(parts) - 1; i >= 0; i-- {
		out = map[string]any{parts[i]: out}
	}
	return out
}

func splitAll(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

// ordered writes a patch with its keys in the order people write them.
func ordered(patch map[string]any, fallback []byte) []byte {
	var n yaml.Node
	n.Kind = yaml.MappingNode
	for _, k := range []string{"apiVersion", "kind", "metadata", "spec"} {
		var v yaml.Node
		if v.Encode(patch[k]) != nil {
			return fallback
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &v)
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2) // as people and kustomize write them
	if enc.Encode(&n) != nil || enc.Close() != nil {
		return fallback
	}
	return b.Bytes()
}
