package schema

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Real objects published by Argo CD and Flux must pass: the validator is only
// useful if it agrees with the API server on them. Status is dropped: some
// fixtures carry status fields of older releases, which the API server prunes
// and the bot never writes.
func TestRealObjectsValidate(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	// A documentation page with placeholder nulls; the API server refuses it too.
	skip := map[string]bool{"testdata/applicationset-spec-reference.yaml": true}
	if len(files) == 0 {
		t.Fatal("no test objects")
	}
	checked := 0
	for _, file := range files {
		if skip[file] {
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for {
			obj := map[string]any{}
			err := dec.Decode(&obj)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if len(obj) == 0 || !Known(str(obj["apiVersion"]), str(obj["kind"])) {
				continue // Namespaces, Deployments: not ours to check
			}
			delete(obj, "status")
			checked++
			if err := Validate(context.Background(), obj); err != nil {
				t.Errorf("%s: %v", file, err)
			}
		}
	}
	if checked < 15 {
		t.Errorf("only %d objects checked", checked)
	}
}

func str(v any) string { s, _ := v.(string); return s }

func TestValidateRejects(t *testing.T) {
	release := func(spec map[string]any) map[string]any {
		return map[string]any{"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
			"metadata": map[string]any{"name": "x", "namespace": "flux-system"}, "spec": spec}
	}
	cases := map[string]struct {
		obj  map[string]any
		want string
	}{
		"unknown field": {release(map[string]any{"interval": "5m", "chartRef": map[string]any{"kind": "OCIRepository", "name": "x"}, "bogus": true}), "spec.bogus: unknown field"},
		"CEL rule":      {release(map[string]any{"interval": "5m"}), "either chart or chartRef must be set"},
		"pattern":       {release(map[string]any{"interval": "five minutes", "chartRef": map[string]any{"kind": "OCIRepository", "name": "x"}}), "spec.interval"},
		"enum":          {release(map[string]any{"interval": "5m", "chartRef": map[string]any{"kind": "Bucket", "name": "x"}}), "spec.chartRef.kind"},
		"required": {map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": map[string]any{"name": "x"},
			"spec": map[string]any{"project": "default"}}, "spec.destination: Required value"},
		"unknown kind": {map[string]any{"apiVersion": "apps/v1", "kind": "Deployment"}, "no CRD shipped"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := Validate(context.Background(), c.obj)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Validate = %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func BenchmarkValidateHelmRelease(b *testing.B) {
	obj := map[string]any{"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
		"metadata": map[string]any{"name": "x", "namespace": "flux-system"},
		"spec": map[string]any{"interval": "5m", "chart": map[string]any{"spec": map[string]any{"chart": "podinfo", "version": "6.7.0",
			"sourceRef": map[string]any{"kind": "HelmRepository", "name": "podinfo"}}}, "values": map[string]any{"replicaCount": 2}}}
	ctx := context.Background()
	if err := Validate(ctx, obj); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = Validate(ctx, obj)
	}
}

func TestValidateBuiltins(t *testing.T) {
	dep := func(spec map[string]any) map[string]any {
		return map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web"}, "spec": spec}
	}
	good := dep(map[string]any{"replicas": int64(2), "selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
		"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
			"spec": map[string]any{"containers": []any{map[string]any{"name": "web", "image": "ghcr.io/acme/web:1.4.2",
				"ports": []any{map[string]any{"containerPort": int64(8080)}}}}}}})
	if known, err := ValidateAny(context.Background(), good); !known || err != nil {
		t.Errorf("good deployment: known=%v err=%v", known, err)
	}
	bad := dep(map[string]any{"replicas": "two", "selector": map[string]any{}, "template": map[string]any{
		"spec": map[string]any{"containers": []any{map[string]any{"image": "x"}}}}})
	_, err := ValidateAny(context.Background(), bad)
	if err == nil || !strings.Contains(err.Error(), "spec.replicas") || !strings.Contains(err.Error(), "name") {
		t.Errorf("bad deployment: %v", err)
	}
	if known, _ := ValidateAny(context.Background(), map[string]any{"apiVersion": "cert-manager.io/v1", "kind": "Certificate"}); known {
		t.Error("a kind without a schema was reported as known")
	}
}

// Int-or-string fields take a number or a name, as the API server does.
func TestIntOrString(t *testing.T) {
	svc := func(targetPort any) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "web"},
			"spec": map[string]any{"ports": []any{map[string]any{"port": int64(80), "targetPort": targetPort}}}}
	}
	for _, tp := range []any{int64(8080), float64(8080), "http"} {
		if known, err := ValidateAny(context.Background(), svc(tp)); !known || err != nil {
			t.Errorf("targetPort %v: known %v, %v", tp, known, err)
		}
	}
	if _, err := ValidateAny(context.Background(), svc(true)); err == nil {
		t.Error("a boolean targetPort was accepted")
	}
}
