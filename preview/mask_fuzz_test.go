package preview_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"unicode"

	"github.com/gitops-bot/gitops-bot/preview"
)

// No Secret value of either side ever appears in a preview: not in the
// Secret's diff, not where a ConfigMap carries it, not base64-encoded,
// not in the JSON form.
func FuzzSecretValuesNeverShow(f *testing.F) {
	f.Add("hunter2-old", "correct-horse", "other-secret")
	f.Add("p4ss word", "ÿ\u00e9t\u00e9 long", "s3cr3t.value")
	base := fleet(f)
	k := "apps/overlays/staging/frontend/kustomization.yaml"
	base = edit(base, k, "- namespace.yaml\n", "- namespace.yaml\n- secret.yaml\n- config.yaml\n")
	f.Fuzz(func(t *testing.T, before, after, other string) {
		if !usable(before) || !usable(after) || !usable(other) || before == after {
			t.Skip()
		}
		secret := func(v string) string {
			return "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata:\n  password: " + base64.StdEncoding.EncodeToString([]byte(v)) +
				"\nstringData:\n  other: " + quote(other) + "\n"
		}
		config := func(v string) string {
			return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata:\n  url: " + quote("postgres://u:"+v+"@db") + "\n  plain: " + quote(v) + "\n"
		}
		b, h := copyOf(base), copyOf(base)
		b["apps/overlays/staging/frontend/secret.yaml"], b["apps/overlays/staging/frontend/config.yaml"] = secret(before), config(before)
		h["apps/overlays/staging/frontend/secret.yaml"], h["apps/overlays/staging/frontend/config.yaml"] = secret(after), config(after)
		p := previews(t, b, h, nil, preview.Options{})["staging"]
		if p == nil {
			t.Fatal("no preview")
		}
		js, _ := json.Marshal(p)
		all := p.Title + p.Summary + p.Text + string(js)
		for _, v := range []string{before, after} {
			if strings.Contains(all, v) {
				t.Fatalf("the value %q shows in the preview", v)
			}
		}
	})
}

// usable: a value long enough to be found only where it was put, and one
// YAML keeps as written.
func usable(s string) bool {
	if len(s) < 6 || len(s) > 64 || strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || r == '"' || r == '\\' {
			return false
		}
	}
	// Text the rendered objects hold anyway (a key, a kind) is not a secret
	// one could tell apart.
	return !strings.ContainsAny(s, ":{}[]#&*!|>'%@`,") && !common(s)
}

func common(s string) bool {
	return strings.Contains("apiVersion kind metadata name namespace data stringData Secret ConfigMap frontend postgres", s)
}

func quote(s string) string { return `"` + s + `"` }

func copyOf(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}
