// Package schema validates generated objects offline against the real Argo CD
// and Flux CRDs shipped in crds/, with the API server's own validators:
// OpenAPI v3 structure and formats, unknown fields (pruning) and CEL rules.
package schema

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
)

//go:embed crds/*.yaml
var crdFS embed.FS

// deprecatedFS holds API versions current controllers no longer serve
// (deprecated/README.md): validated against, never installed.
//
//go:embed deprecated/*.yaml
var deprecatedFS embed.FS

// CRDs returns the embedded CRD files, for tests that install them into a real API server.
func CRDs() fs.FS { return crdFS }

type version struct {
	validator  validation.SchemaValidator
	structural *structuralschema.Structural
	cel        *cel.Validator
}

var (
	loadOnce sync.Once
	loaded   map[schema.GroupVersionKind]*version
	loadErr  error
)

func load() {
	loaded = map[schema.GroupVersionKind]*version{}
	for _, src := range []struct {
		fs  embed.FS
		dir string
	}{{crdFS, "crds"}, {deprecatedFS, "deprecated"}} {
		entries, err := fs.ReadDir(src.fs, src.dir)
		if err != nil {
			loadErr = err
			return
		}
		for _, e := range entries {
			b, err := fs.ReadFile(src.fs, src.dir+"/"+e.Name())
			if err != nil {
				loadErr = err
				return
			}
			if err := addCRD(b); err != nil {
				loadErr = fmt.Errorf("%s: %w", e.Name(), err)
				return
			}
		}
	}
}

func addCRD(b []byte) error {
	var crd apiextensionsv1.CustomResourceDefinition
	if err := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096).Decode(&crd); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	for _, v := range crd.Spec.Versions {
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		internal := &apiextensions.JSONSchemaProps{}
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
			return err
		}
		sv, _, err := validation.NewSchemaValidator(internal)
		if err != nil {
			return err
		}
		st, err := structuralschema.NewStructural(internal)
		if err != nil {
			return err
		}
		gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
		loaded[gvk] = &version{validator: sv, structural: st, cel: cel.NewValidator(st, true, celconfig.PerCallLimit)}
	}
	return nil
}

// Known reports whether a CRD for apiVersion/kind is shipped.
func Known(apiVersion, kind string) bool {
	loadOnce.Do(load)
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return false
	}
	_, ok := loaded[gv.WithKind(kind)]
	return ok
}

// Validate checks obj (the JSON form of a custom resource) against its CRD.
// Objects whose kind has no shipped CRD are an error: the bot only generates
// kinds it can check.
func Validate(ctx context.Context, obj map[string]any) error {
	loadOnce.Do(load)
	if loadErr != nil {
		return fmt.Errorf("loading CRDs: %w", loadErr)
	}
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return fmt.Errorf("apiVersion %q: %v", apiVersion, err)
	}
	v, ok := loaded[gv.WithKind(kind)]
	if !ok {
		return fmt.Errorf("no CRD shipped for %s %s", apiVersion, kind)
	}
	errs := validation.ValidateCustomResource(nil, obj, v.validator)
	celErrs, _ := v.cel.Validate(ctx, nil, v.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	errs = append(errs, celErrs...)

	// Pruning works in place; run it on a copy and report what it would drop,
	// since a dropped field is a silent bug in what we generated.
	opts := structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}
	unknown := pruning.PruneWithOptions(deepCopy(obj), v.structural, true, opts)
	if len(errs) == 0 && len(unknown) == 0 {
		return nil
	}
	msgs := make([]string, 0, len(errs)+len(unknown))
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	for _, p := range unknown {
		msgs = append(msgs, p+": unknown field")
	}
	sort.Strings(msgs)
	return fmt.Errorf("%s %s: %s", kind, name(obj), strings.Join(msgs, "; "))
}

func name(obj map[string]any) string {
	meta, _ := obj["metadata"].(map[string]any)
	n, _ := meta["name"].(string)
	return n
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = deepCopy(x)
		}
		return s
	default:
		return v
	}
}
