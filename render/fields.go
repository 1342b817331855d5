package render

// Readers of the fields of rendered objects and of the YAML they come
// from (map[string]any as sigs.k8s.io/yaml decodes it): a missing or
// mistyped field reads as empty, which is how the controllers default it.

// Get is the value at keys, or nil.
func Get(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

// Str is the string at keys, or "".
func Str(m map[string]any, keys ...string) string {
	s, _ := Get(m, keys...).(string)
	return s
}

// Map is the map at keys, or nil.
func Map(m map[string]any, keys ...string) map[string]any {
	mm, _ := Get(m, keys...).(map[string]any)
	return mm
}

// Maps are the maps of a list; other items are skipped.
func Maps(v any) []map[string]any {
	l, _ := v.([]any)
	var out []map[string]any
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// Strings are the strings of a list; other items are skipped.
func Strings(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
