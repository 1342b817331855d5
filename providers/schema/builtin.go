package schema

import (
	"context"
	"fmt"
	"sort"
	"strings"
	gosync "sync"

	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Built-in kinds (Deployment, Service, Ingress, ...) are checked against
// the Kubernetes OpenAPI document kyaml embeds. kube-openapi's validator does
// not follow $ref, so each kind's schema is expanded once and cached.

var (
	builtinMu gosync.Mutex
	builtins  = map[string]*validate.SchemaValidator{}
)

// builtinValidator returns the validator of a built-in kind, or nil.
func builtinValidator(apiVersion, kind string) *validate.SchemaValidator {
	key := apiVersion + "/" + kind
	builtinMu.Lock()
	defer builtinMu.Unlock()
	if v, ok := builtins[key]; ok {
		return v
	}
	var v *validate.SchemaValidator
	if rs := openapi.SchemaForResourceType(yaml.TypeMeta{APIVersion: apiVersion, Kind: kind}); rs != nil {
		expanded := expand(rs.Schema, openapi.Schema().Definitions, map[string]bool{})
		v = validate.NewSchemaValidator(expanded, nil, "", strfmt.Default)
	}
	builtins[key] = v
	return v
}

// expand returns s with every $ref replaced by its definition. A recursive
// reference (none in the workload kinds) is left open rather than followed.
func expand(s *spec.Schema, defs spec.Definitions, visiting map[string]bool) *spec.Schema {
	if s == nil {
		return nil
	}
	out := *s
	if s.Format == "int-or-string" {
		// The API server takes a number or a string here (a port by number
		// or by name); the OpenAPI document says "string" with this format.
		out.Type, out.Format = spec.StringOrArray{"integer", "string"}, ""
		return &out
	}
	if ref := s.Ref.String(); ref != "" {
		name := strings.TrimPrefix(ref, "#/definitions/")
		def, ok := defs[name]
		if !ok || visiting[name] {
			return &spec.Schema{}
		}
		visiting[name] = true
		defer delete(visiting, name)
		return expand(&def, defs, visiting)
	}
	if s.Properties != nil {
		out.Properties = make(map[string]spec.Schema, len(s.Properties))
		for k, p := range s.Properties {
			out.Properties[k] = *expand(&p, defs, visiting)
		}
	}
	if s.Items != nil && s.Items.Schema != nil {
		out.Items = &spec.SchemaOrArray{Schema: expand(s.Items.Schema, defs, visiting)}
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		out.AdditionalProperties = &spec.SchemaOrBool{Allows: true, Schema: expand(s.AdditionalProperties.Schema, defs, visiting)}
	}
	for i := range s.AllOf {
		out.AllOf[i] = *expand(&s.AllOf[i], defs, visiting)
	}
	return &out
}

// ValidateAny checks an object against its CRD or its built-in schema.
// known is false for kinds the bot has no schema of (another project's
// CRDs), which callers may let through.
func ValidateAny(ctx context.Context, obj map[string]any) (known bool, err error) {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if Known(apiVersion, kind) {
		return true, Validate(ctx, obj)
	}
	v := builtinValidator(apiVersion, kind)
	if v == nil {
		return false, nil
	}
	res := v.Validate(obj)
	if res.IsValid() {
		return true, nil
	}
	msgs := make([]string, 0, len(res.Errors))
	for _, e := range res.Errors {
		msgs = append(msgs, e.Error())
	}
	sort.Strings(msgs)
	return true, fmt.Errorf("%s %s: %s", kind, name(obj), strings.Join(msgs, "; "))
}
