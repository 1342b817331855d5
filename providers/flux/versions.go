package flux

import (
	"strings"

	"github.com/gitops-bot/gitops-bot/providers"
)

// InVersions writes generated objects in the API versions the
// environment's own objects use (have: kind -> apiVersion), field by
// field, for the versions Flux still serves in older clusters:
// HelmRelease v2beta1 and v2beta2 (no chartRef: an OCI chart comes from a
// HelmRepository of type oci, as those versions install it) and sources
// v1beta2. Other versions are left as written; the caller refuses them.
func (Provider) InVersions(objs []providers.Object, have map[string]string) ([]providers.Object, error) {
	hr := have["HelmRelease"]
	src := ""
	for _, k := range []string{"HelmRepository", "OCIRepository", "GitRepository"} {
		if v := have[k]; strings.HasPrefix(v, "source.toolkit.fluxcd.io/") && src == "" {
			src = v
		}
	}
	oldRelease := hr == "helm.toolkit.fluxcd.io/v2beta1" || hr == "helm.toolkit.fluxcd.io/v2beta2"
	out := make([]providers.Object, 0, len(objs))
	var oci map[string]providers.Object // OCIRepository by name, for releases that need a HelmRepository instead
	if oldRelease {
		oci = map[string]providers.Object{}
		for _, o := range objs {
			if o.Ref().Kind == "OCIRepository" {
				oci[o.Ref().Name] = o
			}
		}
	}
	replaced := map[string]bool{}
	for _, o := range objs {
		ref := o.Ref()
		switch {
		case ref.Kind == "HelmRelease" && oldRelease:
			o = copyObject(o)
			o["apiVersion"] = hr
			spec, _ := o["spec"].(map[string]any)
			if cr, ok := spec["chartRef"].(map[string]any); ok && cr["kind"] == "OCIRepository" {
				name, _ := cr["name"].(string)
				if repo, ok := oci[name]; ok {
					rs, _ := repo["spec"].(map[string]any)
					url, _ := rs["url"].(string)
					ref, _ := rs["ref"].(map[string]any)
					version, _ := ref["tag"].(string)
					if s, _ := ref["semver"].(string); s != "" {
						version = s
					}
					i := strings.LastIndex(url, "/")
					delete(spec, "chartRef")
					spec["chart"] = map[string]any{"spec": map[string]any{"chart": url[i+1:], "version": version,
						"sourceRef": map[string]any{"kind": "HelmRepository", "name": name}}}
					meta, _ := repo["metadata"].(map[string]any)
					out = append(out, providers.Object{"apiVersion": firstNonEmpty(src, "source.toolkit.fluxcd.io/v1beta2"), "kind": "HelmRepository", "metadata": meta,
						"spec": map[string]any{"type": "oci", "url": url[:i], "interval": rs["interval"]}})
					replaced[name] = true
				}
			}
			delete(spec, "driftDetection") // v2beta2 and later
		case strings.HasPrefix(ref.APIVersion, "source.toolkit.fluxcd.io/") && (src == "source.toolkit.fluxcd.io/v1beta2"):
			o = copyObject(o)
			o["apiVersion"] = src
		}
		out = append(out, o)
	}
	if len(replaced) == 0 {
		return out, nil
	}
	kept := out[:0]
	for _, o := range out {
		if r := o.Ref(); r.Kind == "OCIRepository" && replaced[r.Name] {
			continue
		}
		kept = append(kept, o)
	}
	return kept, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func copyObject(o providers.Object) providers.Object {
	out := providers.Object{}
	for k, v := range o {
		if m, ok := v.(map[string]any); ok {
			v = copyMap(m)
		}
		out[k] = v
	}
	return out
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if mm, ok := v.(map[string]any); ok {
			v = copyMap(mm)
		}
		out[k] = v
	}
	return out
}
