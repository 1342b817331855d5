package chartrender

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/gitops-bot/gitops-bot/providers/chartrender/chartrendertest"
)

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ .Release.Name }}, namespace: {{ .Release.Namespace }}}
spec:
  replicas: {{ .Values.replicaCount }}
  template:
    spec:
      containers:
        - name: web
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
`

func TestRenderFromARepository(t *testing.T) {
	values := "replicaCount: 1\nimage: {repository: ghcr.io/acme/web, tag: latest}\n"
	repo := chartrendertest.Serve(t,
		chartrendertest.Chart("web", "1.0.0", values, map[string]string{"deployment.yaml": deployment}),
		chartrendertest.Chart("web", "1.1.0", values, map[string]string{"deployment.yaml": deployment}))
	r := New(repo.Client(), 5*time.Second)
	ctx := context.Background()
	objs, err := r.Render(ctx, repo.URL(), "web", ">=1.0.0", "web", "apps", map[string]any{"image": map[string]any{"tag": "2.0.0"}, "replicaCount": 3})
	if err != nil || len(objs) != 1 {
		t.Fatalf("Render = %v, %v", objs, err)
	}
	spec := objs[0]["spec"].(map[string]any)
	c := spec["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	if c["image"] != "ghcr.io/acme/web:2.0.0" || spec["replicas"] != float64(3) && spec["replicas"] != int64(3) {
		t.Errorf("rendered %v", objs[0])
	}
	if _, err := r.Render(ctx, repo.URL(), "web", "1.0.0", "web", "apps", nil); err != nil || repo.Fetched.Load() != 2 {
		t.Errorf("second version: %v, %d archives fetched", err, repo.Fetched.Load())
	}
	if _, err := r.Render(ctx, repo.URL(), "web", ">=1.0.0", "web", "apps", nil); err != nil || repo.Fetched.Load() != 2 {
		t.Errorf("a chart fetched again: %v, %d archives fetched", err, repo.Fetched.Load())
	}
	if _, err := r.Render(ctx, repo.URL(), "web", "9.9.9", "web", "apps", nil); err == nil {
		t.Error("a missing version rendered")
	}
}

// Charts of an OCI registry are pulled with Helm's registry client: an
// exact tag, or the newest tag a range allows; pulled once.
func TestLoadFromAnOCIRegistry(t *testing.T) {
	values := "replicaCount: 1\nimage: {repository: ghcr.io/acme/web, tag: latest}\n"
	reg := chartrendertest.ServeOCI(t,
		chartrendertest.Chart("web", "1.0.0", values, map[string]string{"deployment.yaml": deployment}),
		chartrendertest.Chart("web", "1.2.0", values, map[string]string{"deployment.yaml": deployment}),
		chartrendertest.Chart("web", "2.0.0", values, map[string]string{"deployment.yaml": deployment}))
	r := New(reg.Client(), 5*time.Second)
	ctx := context.Background()
	for _, c := range []struct{ version, want string }{{"1.0.0", "1.0.0"}, {">=1.0.0 <2.0.0", "1.2.0"}, {"1.x", "1.2.0"}, {"", "2.0.0"}} {
		ch, err := r.Load(ctx, reg.URL(), "web", c.version)
		if err != nil {
			t.Fatalf("Load %q: %v", c.version, err)
		}
		if ch.Name() != "web" || ch.Metadata.Version != c.want {
			t.Errorf("Load %q = %s %s, want %s", c.version, ch.Name(), ch.Metadata.Version, c.want)
		}
	}
	if n := reg.Pulled.Load(); n != 3 {
		t.Errorf("%d chart layers pulled for three versions", n)
	}
	objs, err := r.Render(ctx, reg.URL(), "web", "1.0.0", "web", "apps", map[string]any{"replicaCount": 2})
	if err != nil || len(objs) != 1 {
		t.Fatalf("Render = %v, %v", objs, err)
	}
	if _, err := r.Load(ctx, reg.URL(), "web", "9.9.9"); err == nil {
		t.Error("a missing tag loaded")
	}
	if _, err := r.Load(ctx, reg.URL(), "web", ">=3.0.0"); err == nil || !strings.Contains(err.Error(), "no version of web in "+reg.URL()+" matches >=3.0.0") {
		t.Errorf("a range no tag matches: %v", err)
	}
}

// Resolve picks the version the controllers would install today, from the
// index or the tags, and tells the source's "no" from not reaching it.
func TestResolve(t *testing.T) {
	values := "replicaCount: 1\n"
	charts := []*chart.Chart{
		chartrendertest.Chart("web", "1.0.0", values, nil),
		chartrendertest.Chart("web", "1.2.0", values, nil),
		chartrendertest.Chart("web", "2.0.0", values, nil),
	}
	repo := chartrendertest.Serve(t, charts...)
	reg := chartrendertest.ServeOCI(t, charts...)
	ctx := context.Background()
	for _, src := range []struct {
		url    string
		client *http.Client
	}{{repo.URL(), repo.Client()}, {reg.URL(), reg.Client()}} {
		r := New(src.client, 5*time.Second)
		for version, want := range map[string]string{"1.0.0": "1.0.0", "1.x": "1.2.0", ">=1.0.0 <2.0.0": "1.2.0", "*": "2.0.0"} {
			if got, err := r.Resolve(ctx, src.url, "web", version); err != nil || got != want {
				t.Errorf("%s web %q = %q, %v; want %s", src.url, version, got, err, want)
			}
		}
		_, err := r.Resolve(ctx, src.url, "web", "3.x")
		if !errors.Is(err, ErrNoChart) || !strings.Contains(err.Error(), "no version of web in "+src.url+" matches 3.x; the newest are 2.0.0, 1.2.0, 1.0.0") {
			t.Errorf("%s: a version it lacks: %v", src.url, err)
		}
		if _, err := r.Resolve(ctx, src.url, "api", "1.0.0"); !errors.Is(err, ErrNoChart) || !strings.Contains(err.Error(), "no chart") {
			t.Errorf("%s: a chart it lacks: %v", src.url, err)
		}
		if repo.Fetched.Load() != 0 || reg.Pulled.Load() != 0 {
			t.Error("a chart was downloaded to resolve a version")
		}
	}
	r := New(repo.Client(), 5*time.Second)
	if _, err := r.Resolve(ctx, repo.Server.URL+"/elsewhere", "web", "1.0.0"); !errors.Is(err, ErrNoChart) || !strings.Contains(err.Error(), "has no index.yaml, so it is not a Helm repository") {
		t.Errorf("no index: %v", err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	if _, err := r.Resolve(ctx, closed.URL, "web", "1.0.0"); err == nil || errors.Is(err, ErrNoChart) {
		t.Errorf("a repository nobody answers for is not its answer: %v", err)
	}
}
