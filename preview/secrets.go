package preview

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"sort"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/render"
)

// Secret values never appear in a preview, changed or not: a Secret's keys
// are listed and its values masked as `flux diff` masks them ("***", or
// "*** (before)" and "*** (after)" where a value changes), and a Secret's
// value that shows up in another object (a postBuild substitution from a
// Secret, say) is masked there too. A SOPS-encrypted Secret is masked the
// same way: nothing is decrypted.

const mask = "***"

// minSubstring: shorter values are masked where a field holds exactly the
// value, not inside other text (a value "1" would mask every digit).
const minSubstring = 4

// secretValues are every Secret value of both renders, plain and base64,
// longest first.
func secretValues(envs ...*render.Env) []string {
	set := map[string]bool{}
	for _, env := range envs {
		if env == nil {
			continue
		}
		for _, o := range env.Objects {
			if o.Kind() != "Secret" {
				continue
			}
			for _, v := range render.Map(o.Obj, "data") {
				s, _ := v.(string)
				set[s] = true
				if d, err := base64.StdEncoding.DecodeString(s); err == nil {
					set[string(d)] = true
				}
			}
			for _, v := range render.Map(o.Obj, "stringData") {
				s, _ := v.(string)
				set[s] = true
				set[base64.StdEncoding.EncodeToString([]byte(s))] = true
			}
		}
	}
	delete(set, "")
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// masked is obj as a preview may show it; other is the object on the
// other side (nil when there is none), side "before" or "after".
func masked(obj, other map[string]any, side string, secrets []string) map[string]any {
	if obj == nil {
		return nil
	}
	c := deepCopy(obj)
	if render.Str(c, "kind") == "Secret" {
		for _, field := range []string{"data", "stringData"} {
			m := render.Map(c, field)
			for k, v := range m {
				if ov, ok := render.Map(other, field)[k]; ok && reflect.DeepEqual(ov, v) || other == nil {
					m[k] = mask
				} else {
					m[k] = mask + " (" + side + ")"
				}
			}
		}
		if ann := render.Map(c, "metadata", "annotations"); ann != nil {
			delete(ann, "kubectl.kubernetes.io/last-applied-configuration")
		}
		return c
	}
	return scrub(c, secrets).(map[string]any)
}

// scrub masks secret values in every string under v.
func scrub(v any, secrets []string) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = scrub(e, secrets)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = scrub(e, secrets)
		}
		return t
	case string:
		for _, s := range secrets {
			switch {
			case t == s:
				return mask
			case len(s) >= minSubstring && strings.Contains(t, s):
				t = strings.ReplaceAll(t, s, mask)
			}
		}
		return t
	}
	return v
}

func deepCopy(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// same: two renders of an object are alike (as the API server would take
// them: numbers compared by value).
func same(a, b map[string]any) bool {
	return reflect.DeepEqual(deepCopy(a), deepCopy(b))
}

// diff is the unified diff of an object's two sides as YAML, masked.
func diff(before, after map[string]any, secrets []string) string {
	text := func(m map[string]any) string {
		if m == nil {
			return ""
		}
		b, err := sigsyaml.Marshal(m)
		if err != nil {
			return ""
		}
		return string(b)
	}
	a := text(masked(before, after, "before", secrets))
	b := text(masked(after, before, "after", secrets))
	d, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(a), B: difflib.SplitLines(b), FromFile: "before", ToFile: "after", Context: 3,
	})
	return d
}
