package yamledit

import (
	"strings"
	"testing"
)

const manifest = `# The web app, production.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # keep this name
  labels: &labels
    app: web
spec:
  replicas: 2 # scaled by hand in March
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: *labels
    spec:
      containers:
        - name: sidecar
          image: "envoyproxy/envoy:v1.30"
        - name: web
          image: 'ghcr.io/acme/web:1.4.2'   # bumped by CI
          resources:
            limits: {memory: 256Mi}
---
# second document
apiVersion: v1
kind: Service
metadata: {name: web}
`

func mustPath(t *testing.T, s string) []Step {
	t.Helper()
	p, err := Path(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Every byte outside the edited value is unchanged.
func TestSetScalarKeepsEverythingElse(t *testing.T) {
	cases := []struct{ path, value, old, new string }{
		{"spec.replicas", "4", "replicas: 2 #", "replicas: 4 #"},
		{"spec.template.spec.containers[name=web].image", "ghcr.io/acme/web:1.4.3", "'ghcr.io/acme/web:1.4.2'", "'ghcr.io/acme/web:1.4.3'"},
		{"spec.template.spec.containers[name=sidecar].image", "envoyproxy/envoy:v1.31", `"envoyproxy/envoy:v1.30"`, `"envoyproxy/envoy:v1.31"`},
		{"spec.template.spec.containers[name=web].resources.limits.memory", "512Mi", "{memory: 256Mi}", "{memory: 512Mi}"},
		{"spec.selector.matchLabels.app", "web", "{app: web}", "{app: web}"},
	}
	for _, c := range cases {
		out, err := SetScalar([]byte(manifest), 0, mustPath(t, c.path), c.value)
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		if want := strings.Replace(manifest, c.old, c.new, 1); string(out) != want {
			t.Errorf("%s:\n got %q\nwant %q", c.path, out, want)
		}
	}
	out, err := SetScalar([]byte(manifest), 1, mustPath(t, "metadata.name"), "web2")
	if err != nil || string(out) != strings.Replace(manifest, "metadata: {name: web}", "metadata: {name: web2}", 1) {
		t.Errorf("second document: %v\n%s", err, out)
	}
}

func TestSetScalarQuotesWhatWouldChangeType(t *testing.T) {
	src := "image:\n  tag: 1.4.2\nreplicaCount: 1\n"
	out, _ := SetScalar([]byte(src), 0, mustPath(t, "image.tag"), "1.10")
	if string(out) != "image:\n  tag: \"1.10\"\nreplicaCount: 1\n" {
		t.Errorf("%q", out)
	}
	out, _ = SetScalar([]byte(src), 0, mustPath(t, "replicaCount"), "3")
	if string(out) != "image:\n  tag: 1.4.2\nreplicaCount: 3\n" {
		t.Errorf("%q", out)
	}
}

func TestSetScalarErrors(t *testing.T) {
	if _, err := SetScalar([]byte(manifest), 0, mustPath(t, "spec.nope"), "x"); !IsMissing(err) {
		t.Errorf("missing path: %v", err)
	}
	if _, err := SetScalar([]byte(manifest), 0, mustPath(t, "spec.template"), "x"); err == nil {
		t.Error("set a mapping as a scalar")
	}
	if _, err := SetScalar([]byte("a: [1, 2\n"), 0, mustPath(t, "a"), "x"); err == nil {
		t.Error("broken YAML accepted")
	}
	if _, err := Path("a[b]"); err == nil {
		t.Error("bad selector accepted")
	}
}

func TestInsertAddsUnderParent(t *testing.T) {
	src := "spec:\n  values:\n    replicaCount: 2 # two\n  interval: 5m\n"
	out, err := Insert([]byte(src), 0, mustPath(t, "spec.values"), "resources", map[string]any{"limits": map[string]any{"memory": "512Mi"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "spec:\n  values:\n    replicaCount: 2 # two\n    resources:\n      limits:\n        memory: 512Mi\n  interval: 5m\n"
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

// Adding a list item keeps every other byte, in the list's own style.
func TestAppend(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"block, indented, comments and separators", "---\n# apps\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\nresources:\n  - a.yaml # first\n  - b.yaml\n\npatches: []\n",
			"---\n# apps\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\nresources:\n  - a.yaml # first\n  - b.yaml\n  - new.yaml\n\npatches: []\n"},
		{"block, not indented", "resources:\n- a.yaml\n- b.yaml\n", "resources:\n- a.yaml\n- b.yaml\n- new.yaml\n"},
		{"flow", "resources: [a.yaml, \"b.yaml\"] # all\nnamespace: x\n", "resources: [a.yaml, \"b.yaml\", new.yaml] # all\nnamespace: x\n"},
		{"empty flow", "resources: []\n", "resources: [new.yaml]\n"},
		{"missing", "namespace: x\n", "namespace: x\nresources:\n  - new.yaml\n"},
		{"at the end, no newline", "resources:\n  - a.yaml", "resources:\n  - a.yaml\n  - new.yaml\n"},
	}
	for _, c := range cases {
		got, err := Append([]byte(c.src), 0, []Step{{Key: "resources"}}, "new.yaml")
		if err != nil || string(got) != c.want {
			t.Errorf("%s: %v\n got: %q\nwant: %q", c.name, err, got, c.want)
		}
	}
}

func TestAppendValue(t *testing.T) {
	src := "resources:\n  - ../base\npatches:\n  - path: a.yaml # first\n    target: {kind: Deployment}\nimages: []\n"
	got, err := AppendValue([]byte(src), 0, []Step{{Key: "patches"}}, map[string]string{"path": "web-resources.yaml"})
	want := "resources:\n  - ../base\npatches:\n  - path: a.yaml # first\n    target: {kind: Deployment}\n  - path: web-resources.yaml\nimages: []\n"
	if err != nil || string(got) != want {
		t.Errorf("got %q, %v", got, err)
	}
	got, err = AppendValue([]byte("resources:\n- ../base\n"), 0, []Step{{Key: "patches"}}, map[string]string{"path": "p.yaml"})
	if err != nil || string(got) != "resources:\n- ../base\npatches:\n  - path: p.yaml\n" {
		t.Errorf("missing key: %q, %v", got, err)
	}
}
