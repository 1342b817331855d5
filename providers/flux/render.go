package flux

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	fluxkustomize "github.com/fluxcd/pkg/kustomize"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/provider"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/render"
)

// Field readers, render's (shorter names for the many reads below).
var (
	str  = render.Str
	obj  = render.Map
	list = render.Maps
	strs = render.Strings
)

// Renderer is Flux as the render model knows it: a directory applied the
// way the flux-system Kustomization applies it, Kustomizations built as
// kustomize-controller builds them, HelmReleases rendered as
// helm-controller renders them.
type Renderer struct{}

func (Renderer) Name() string { return "flux" }

// Root renders an environment's directory as the Kustomization that
// `flux bootstrap` writes applies it: path set, nothing else.
func (Renderer) Root(ctx context.Context, b *render.Build, dir string) ([]render.Object, error) {
	ks := map[string]any{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": "flux-system", "namespace": "flux-system"},
		"spec":     map[string]any{"path": dir}}
	return buildKustomization(ctx, b, ks, dir)
}

// Expand renders a Kustomization or a HelmRelease.
func (Renderer) Expand(ctx context.Context, b *render.Build, o render.Object) (render.Expansion, bool) {
	switch {
	case o.Group() == "kustomize.toolkit.fluxcd.io" && o.Kind() == "Kustomization":
		return kustomization(ctx, b, o), true
	case o.Group() == "helm.toolkit.fluxcd.io" && o.Kind() == "HelmRelease":
		return helmRelease(ctx, b, o), true
	}
	return render.Expansion{}, false
}

// source resolves the path p of an applier's sourceRef to a directory of
// this repository. It fails when the source is another repository or an
// artifact this repository does not make, and returns render.ErrWait when
// the source is not rendered yet.
func source(b *render.Build, o render.Object, ref map[string]any, p string) (string, error) {
	kind, name, ns := str(ref, "kind"), str(ref, "name"), str(ref, "namespace")
	if kind == "" {
		kind = "GitRepository"
	}
	if ns == "" {
		ns = o.Namespace()
	}
	switch kind {
	case "GitRepository":
		src := b.Find("GitRepository", ns, name)
		if src == nil {
			if !b.Final {
				return "", render.ErrWait
			}
			return p, nil // a source defined outside the repository (bootstrap's): taken as this one
		}
		if u := str(src.Obj, "spec", "url"); !b.ThisRepo(u) {
			return "", fmt.Errorf("applies the GitRepository %s/%s of %s, another repository", ns, name, u)
		}
		return p, nil
	case "ExternalArtifact":
		return artifactPath(b, ns, name, p)
	}
	return "", fmt.Errorf("applies the %s %s/%s, an artifact this repository does not hold", kind, ns, name)
}

// artifactPath maps path p of an ExternalArtifact that an
// ArtifactGenerator (source-watcher) makes from this repository back to
// the repository: the copy rule whose destination holds p says where its
// files come from. Copies are taken to keep the layout under them, so
// relative references between copied directories resolve in the
// repository as in the artifact.
func artifactPath(b *render.Build, ns, name, p string) (string, error) {
	for _, o := range b.Env.Objects {
		if o.Kind() != "ArtifactGenerator" || o.Namespace() != ns {
			continue
		}
		aliases := map[string]map[string]any{}
		for _, s := range list(obj(o.Obj, "spec")["sources"]) {
			aliases[str(s, "alias")] = s
		}
		for _, a := range list(obj(o.Obj, "spec")["artifacts"]) {
			if str(a, "name") != name {
				continue
			}
			b.Find("ArtifactGenerator", ns, o.Name()) // a dependency of the render
			for _, c := range list(a["copy"]) {
				from, to := str(c, "from"), str(c, "to")
				alias, fromPath, _ := strings.Cut(strings.TrimPrefix(from, "@"), "/")
				toPath := strings.Trim(strings.TrimPrefix(to, "@artifact"), "/")
				fromDir := strings.Trim(strings.TrimSuffix(strings.TrimSuffix(fromPath, "**"), "*"), "/")
				if toPath != "" && p != toPath && !strings.HasPrefix(p, toPath+"/") {
					continue
				}
				src := aliases[alias]
				if k := str(src, "kind"); k != "" && k != "GitRepository" {
					return "", fmt.Errorf("the ExternalArtifact %s/%s copies from the %s %s", ns, name, k, str(src, "name"))
				}
				if _, err := source(b, o, src, ""); err != nil {
					return "", err
				}
				rest := strings.Trim(strings.TrimPrefix(p, toPath), "/")
				return strings.Trim(path.Join(fromDir, rest), "/"), nil
			}
			return "", fmt.Errorf("the ExternalArtifact %s/%s has no copy rule for %s", ns, name, orDot(p))
		}
	}
	if !b.Final {
		return "", render.ErrWait
	}
	return "", fmt.Errorf("applies the ExternalArtifact %s/%s, which no ArtifactGenerator of the environment makes", ns, name)
}

// kustomization renders a Flux Kustomization of this repository.
func kustomization(ctx context.Context, b *render.Build, o render.Object) render.Expansion {
	dir := strings.TrimPrefix(path.Clean("/"+str(o.Obj, "spec", "path")), "/")
	x := render.Expansion{Source: dir}
	if dir == "" {
		x.Source = "."
	}
	dir, err := source(b, o, obj(o.Obj, "spec", "sourceRef"), dir)
	if err != nil {
		x.Err = err
		return x
	}
	x.Source = orDot(dir)
	if dir == b.Env.Dir && o.Applier == 0 {
		// The bootstrap Kustomization (flux-system) applying the
		// environment's own directory: what it applies is the root's.
		return x
	}
	x.Objects, x.Err = buildKustomization(ctx, b, o.Obj, dir)
	return x
}

// buildKustomization is kustomize-controller's build: the Kustomization's
// fields merged into the directory's kustomization (or one generated over
// its manifests) by Flux's own generator, the kustomize build, then
// postBuild substitution and commonMetadata.
func buildKustomization(ctx context.Context, b *render.Build, ks map[string]any, dir string) ([]render.Object, error) {
	if !b.Tree.IsDir(dir) {
		return nil, fmt.Errorf("path %s: no such directory in the repository", orDot(dir))
	}
	manifest, err := generate(b, ks, dir)
	if err != nil {
		return nil, fmt.Errorf("path %s: %w", orDot(dir), err)
	}
	objs, err := b.Kustomize(dir, render.KustomizeOptions{Kustomization: manifest})
	if err != nil {
		return nil, err
	}
	if post := obj(ks, "spec", "postBuild"); post != nil {
		if objs, err = substitute(ctx, b, ks, objs); err != nil {
			return nil, err
		}
	}
	if cm := obj(ks, "spec", "commonMetadata"); cm != nil {
		for _, o := range objs {
			meta := obj(o.Obj, "metadata")
			for _, f := range []string{"labels", "annotations"} {
				add := obj(cm, f)
				if len(add) == 0 {
					continue
				}
				m := obj(meta, f)
				if m == nil {
					m = map[string]any{}
					meta[f] = m
				}
				for k, v := range add {
					m[k] = v
				}
			}
		}
	}
	return objs, nil
}

func orDot(dir string) string {
	if dir == "" {
		return "."
	}
	return dir
}

// generate runs Flux's kustomization generator. It reads from disk, so the
// files it reads (the kustomization, or the manifests to list) are written
// to a scratch directory first.
func generate(b *render.Build, ks map[string]any, dir string) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "render-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	put := func(p string) error {
		c, err := b.Read(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(tmp, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, c, 0o644)
	}
	if err := os.MkdirAll(filepath.Join(tmp, filepath.FromSlash(dir)), 0o755); err != nil {
		return nil, err
	}
	if kf := b.KustomizationFile(dir); kf != "" {
		if err := put(kf); err != nil {
			return nil, err
		}
	} else {
		for _, f := range b.Under(dir) {
			if ext := path.Ext(f); ext == ".yaml" || ext == ".yml" || ext == ".json" {
				if err := put(f); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, c := range strs(obj(ks, "spec")["components"]) {
		if p := path.Join(dir, c); b.Tree.IsDir(p) {
			os.MkdirAll(filepath.Join(tmp, filepath.FromSlash(p)), 0o755)
		}
	}
	g := fluxkustomize.NewGenerator(tmp, unstructured.Unstructured{Object: ks})
	manifest, _, _, err := g.GenerateManifest(filepath.Join(tmp, filepath.FromSlash(dir)))
	return manifest, err
}

// substitute runs Flux's postBuild substitution on every object, with the
// variables of substituteFrom read from the ConfigMaps and Secrets the
// environment renders (kustomize-controller reads them from the cluster),
// then the Kustomization's own substitute over them.
func substitute(ctx context.Context, b *render.Build, ks map[string]any, objs []render.Object) ([]render.Object, error) {
	vars, err := Variables(b, ks)
	if err != nil {
		return nil, err
	}
	// The library reads substitute from the object: hand it the merged set.
	merged := map[string]any{}
	for k, v := range vars {
		merged[k] = v
	}
	with := unstructured.Unstructured{Object: map[string]any{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": str(ks, "metadata", "name"), "namespace": str(ks, "metadata", "namespace")},
		"spec":     map[string]any{"postBuild": map[string]any{"substitute": merged}}}}
	factory := provider.NewDefaultDepProvider().GetResourceFactory()
	out := objs[:0]
	for _, o := range objs {
		res, err := factory.FromMap(o.Obj)
		if err != nil {
			return nil, err
		}
		got, err := fluxkustomize.SubstituteVariables(ctx, nil, with, res, fluxkustomize.SubstituteWithDryRun(true))
		if err != nil {
			return nil, fmt.Errorf("postBuild substitution in %s %s: %w", o.Kind(), o.Name(), err)
		}
		if got != nil {
			m, err := got.Map()
			if err != nil {
				return nil, err
			}
			o.Obj = m
		}
		out = append(out, o)
	}
	return out, nil
}

// Variables are a Kustomization's postBuild variables: substituteFrom in
// order, then substitute (kustomize-controller's order). A reference the
// environment does not render waits, then fails unless optional.
func Variables(b *render.Build, ks map[string]any) (map[string]string, error) {
	vars := map[string]string{}
	post := obj(ks, "spec", "postBuild")
	refs, _ := post["substituteFrom"].([]any)
	for _, r := range refs {
		ref, _ := r.(map[string]any)
		kind, name := str(ref, "kind"), str(ref, "name")
		optional, _ := ref["optional"].(bool)
		src := b.Find(kind, str(ks, "metadata", "namespace"), name)
		if src == nil {
			if !b.Final {
				return nil, render.ErrWait
			}
			if optional {
				continue
			}
			return nil, fmt.Errorf("substituteFrom %s/%s: not in the environment", kind, name)
		}
		for k, v := range Data(src.Obj) {
			vars[k] = strings.ReplaceAll(v, "\n", "")
		}
	}
	for k, v := range obj(post, "substitute") {
		s, _ := v.(string)
		if s == "" {
			if v != nil {
				s = fmt.Sprint(v)
			}
		}
		vars[k] = strings.ReplaceAll(s, "\n", "")
	}
	return vars, nil
}

// Data is a ConfigMap's data or a Secret's decoded data and stringData.
func Data(o map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range obj(o, "data") {
		s, _ := v.(string)
		if o["kind"] == "Secret" {
			if d, err := base64.StdEncoding.DecodeString(s); err == nil {
				s = string(d)
			}
		}
		out[k] = s
	}
	for k, v := range obj(o, "stringData") {
		s, _ := v.(string)
		out[k] = s
	}
	return out
}

// valuesOf parses a values document.
func valuesOf(s string) (map[string]any, error) {
	m := map[string]any{}
	if err := sigsyaml.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	return m, nil
}
