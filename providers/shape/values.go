package shape

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/gitops-bot/gitops-bot/render"
)

func init() { Register(valuesFile{}) }

// HelmApplier is the nearest applier of the workload that renders a chart.
func HelmApplier(t *Target) *render.Applier {
	for i := len(t.Chain) - 1; i >= 0; i-- {
		if t.Chain[i].Helm != nil {
			return t.Chain[i]
		}
	}
	return nil
}

// ValueSets are the sets of chart values (dotted key -> value) that may
// give the workload what is asked, found in the values the chart renders
// with: an image map (repository, tag, registry, digest) or string whose
// repository is the container's, a replica count equal to the workload's,
// a resources map equal to the container's. The render tells which is
// the chart's.
func ValueSets(t *Target, values map[string]any) []map[string]any {
	var out []map[string]any
	if t.Ask.Field == Bounds {
		return boundSets(t, values)
	}
	walk(values, "", func(key string, v any) {
		switch t.Ask.Field {
		case Image:
			if s := imageSet(key, v, t.Ask.Old, t.Ask.Image); s != nil {
				out = append(out, s)
			}
		case Replicas:
			last := key[strings.LastIndex(key, ".")+1:]
			if (last == "replicaCount" || last == "replicas") && number(v) != nil && number(v) == number(Get(t.Object.Obj, "spec", "replicas")) {
				out = append(out, map[string]any{key: t.Ask.Replicas})
			}
			if (last == "replicaCount" || last == "replicas") && Get(t.Object.Obj, "spec", "replicas") == nil && number(v) != nil {
				out = append(out, map[string]any{key: t.Ask.Replicas})
			}
			// A controller of a library chart (app-template's
			// controllers.NAME) takes replicas beside its containers.
			if m, ok := v.(map[string]any); ok && m["containers"] != nil && m["replicas"] == nil {
				out = append(out, map[string]any{key + ".replicas": t.Ask.Replicas})
			}
		case Resources:
			last := key[strings.LastIndex(key, ".")+1:]
			c := Container(t.Object.Obj, t.Ask.Container)
			if last == "resources" && c != nil {
				m, _ := v.(map[string]any)
				cur, _ := c["resources"].(map[string]any)
				if reflect.DeepEqual(m, cur) || len(m) == 0 && len(cur) == 0 {
					s := map[string]any{}
					for k, val := range t.Ask.Resources {
						s[key+"."+k] = val
					}
					out = append(out, s)
				}
			}
		}
	})
	sort.SliceStable(out, func(i, j int) bool { return len(firstKey(out[i])) < len(firstKey(out[j])) })
	return out
}

// boundAliases are the values keys charts name an autoscaler's spec
// fields by (autoscaling.minReplicas for a ScaledObject's minReplicaCount).
var boundAliases = map[string][]string{
	"minReplicas": {"minReplicas"}, "maxReplicas": {"maxReplicas"},
	"minReplicaCount": {"minReplicaCount", "minReplicas"}, "maxReplicaCount": {"maxReplicaCount", "maxReplicas"},
}

// boundSets are the values maps that hold the autoscaler's current
// bounds (an `autoscaling:` section): each asked bound set beside them.
func boundSets(t *Target, values map[string]any) []map[string]any {
	var out []map[string]any
	try := func(prefix string, m map[string]any) {
		set := map[string]any{}
		found := false
		for field, want := range t.Ask.Bounds {
			key := field
			for _, alias := range boundAliases[field] {
				if v, ok := m[alias]; ok {
					key = alias
					found = found || number(v) == number(Get(t.Object.Obj, "spec", field))
					break
				}
			}
			if prefix != "" {
				key = prefix + "." + key
			}
			set[key] = want
		}
		if found {
			out = append(out, set)
		}
	}
	try("", values)
	walk(values, "", func(key string, v any) {
		if m, ok := v.(map[string]any); ok {
			try(key, m)
		}
	})
	// A chart may take one bound from a value of another name (podinfo's
	// minReplicas is its replicaCount): a replica value equal to it.
	if len(t.Ask.Bounds) == 1 {
		for field, want := range t.Ask.Bounds {
			cur := number(Get(t.Object.Obj, "spec", field))
			walk(values, "", func(key string, v any) {
				last := strings.ToLower(key[strings.LastIndex(key, ".")+1:])
				if cur != nil && strings.Contains(last, "replica") && number(v) == cur && !hasKey(out, key) {
					out = append(out, map[string]any{key: want})
				}
			})
		}
	}
	return out
}

func hasKey(sets []map[string]any, key string) bool {
	for _, s := range sets {
		if _, ok := s[key]; ok {
			return true
		}
	}
	return false
}

// firstKey is the first of m's keys in order: the one a reply names.
func firstKey(m map[string]any) string {
	first := ""
	for k := range m {
		if first == "" || k < first {
			first = k
		}
	}
	return first
}

func number(v any) any {
	switch n := v.(type) {
	case int:
		return int64(n)
	case int64:
		return n
	case float64:
		if n == float64(int64(n)) {
			return int64(n)
		}
	}
	return nil
}

func walk(v any, prefix string, fn func(key string, v any)) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, e := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if strings.Contains(k, ".") {
			continue // a key with a dot cannot be addressed as a path
		}
		fn(key, e)
		walk(e, key, fn)
	}
}

// imageSet is the values that give image want where key holds the image
// old: a map of repository and tag (registry, digest), or a string.
func imageSet(key string, v any, old, want Img) map[string]any {
	if s, ok := v.(string); ok {
		if strings.HasSuffix(key, "image") && s != "" && ParseImg(s).Name == old.Name {
			return map[string]any{key: want.String()}
		}
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	repo, _ := m["repository"].(string)
	if repo == "" {
		return nil
	}
	reg, _ := m["registry"].(string)
	full := repo
	if reg != "" {
		full = reg + "/" + repo
	}
	if !sameRepo(full, old.Name) && !sameRepo(repo, old.Name) {
		return nil
	}
	out := map[string]any{}
	if want.Name != old.Name {
		if reg != "" && strings.HasPrefix(want.Name, reg+"/") {
			out[key+".repository"] = strings.TrimPrefix(want.Name, reg+"/")
		} else if reg != "" {
			r, rest, _ := strings.Cut(want.Name, "/")
			out[key+".registry"], out[key+".repository"] = r, rest
		} else {
			out[key+".repository"] = want.Name
		}
	}
	if _, hasDigest := m["digest"]; hasDigest {
		out[key+".tag"] = want.Tag
		out[key+".digest"] = want.Digest
	} else if want.Digest != "" {
		out[key+".tag"] = strings.TrimPrefix(want.Tag+"@"+want.Digest, "@")
	} else {
		out[key+".tag"] = want.Tag
	}
	return out
}

// sameRepo: a values repository names the rendered image, with or without
// its registry (docker.io and library/ being implied).
func sameRepo(values, rendered string) bool {
	norm := func(s string) string {
		s = strings.TrimPrefix(s, "docker.io/")
		s = strings.TrimPrefix(s, "index.docker.io/")
		return strings.TrimPrefix(s, "library/")
	}
	a, b := norm(values), norm(rendered)
	return a == b || strings.HasSuffix(b, "/"+a)
}

// valuesFile sets chart values in a values file of this repository that
// the chart renders with (a chart's values.yaml, an Application's
// valueFiles, a HelmRelease's chart valuesFiles).
type valuesFile struct{}

func (valuesFile) Name() string { return "values-file" }

func (valuesFile) Edits(t *Target) []Edit {
	a := HelmApplier(t)
	if a == nil {
		return nil
	}
	var out []Edit
	for i, f := range a.Helm.Files {
		docs := t.Docs.Of(f)
		if len(docs) == 0 {
			continue
		}
		for _, set := range ValueSets(t, a.Helm.Values) {
			content, adds, err := SetAll(t.Docs.Raw(f), docs[0].Index, nil, set)
			if err != nil {
				continue
			}
			out = append(out, Edit{File: f, Content: content, Adds: adds, Layer: 1 + i, Where: fmt.Sprintf("%s of the values file %s", Code(firstKey(set)), Code(f))})
		}
	}
	return out
}
