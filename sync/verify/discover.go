package verify

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/sync/cluster"
)

// discover finds what a verification watches: the appliers of this
// repository whose path holds a changed file, and the objects the pull
// request manages.
func (v *Verifier) discover(ctx context.Context, c *cluster.Cluster, req Request) ([]Target, error) {
	var targets []Target
	seen := map[providers.Ref]bool{}
	add := func(ref providers.Ref, role Role) {
		if !seen[ref] {
			seen[ref] = true
			targets = append(targets, Target{Ref: ref, Role: role})
		}
	}
	switch req.Provider {
	case "flux":
		appliers, err := v.fluxAppliers(ctx, c, req)
		if err != nil {
			return nil, err
		}
		for _, r := range appliers {
			add(r, Applier)
		}
	case "argocd":
		inf, err := c.Watch(ctx, providers.ApplicationGVR, v.syncWait)
		if err != nil {
			return nil, err
		}
		for _, o := range inf.GetStore().List() {
			app := o.(*unstructured.Unstructured)
			if tracks(app, req) {
				add(providers.RefOf(app), Applier)
			}
		}
	default:
		return nil, fmt.Errorf("unknown provider %q", req.Provider)
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].Ref.String() < targets[j].Ref.String() })
	for _, ref := range req.Objects {
		if _, ok := providers.GVRForKind(ref.Kind); ok {
			add(ref, Managed)
		}
	}
	return targets, nil
}

// fluxAppliers: Kustomizations whose GitRepository points at this
// repository (or whose OCIRepository's artifact was pushed from it) and
// whose path holds a changed file.
func (v *Verifier) fluxAppliers(ctx context.Context, c *cluster.Cluster, req Request) ([]providers.Ref, error) {
	ks, err := c.Watch(ctx, providers.KustomizationGVR, v.syncWait)
	if err != nil {
		return nil, err
	}
	repos, err := c.Watch(ctx, providers.GitRepositoryGVR, v.syncWait)
	if err != nil {
		return nil, err
	}
	var out []providers.Ref
	for _, o := range ks.GetStore().List() {
		k := o.(*unstructured.Unstructured)
		if !holdsAny(providers.Str(k, "spec", "path"), req.Files) {
			continue // before its source is looked up: no informer for what does not matter
		}
		ns := providers.Str(k, "spec", "sourceRef", "namespace")
		if ns == "" {
			ns = k.GetNamespace()
		}
		name := providers.Str(k, "spec", "sourceRef", "name")
		switch providers.Str(k, "spec", "sourceRef", "kind") {
		case "GitRepository":
			src, ok := c.Get(repos, ns, name)
			if !ok || !providers.SameRepo(providers.Str(src, "spec", "url"), req.Repo.CloneURL) {
				continue
			}
		case "OCIRepository":
			// Manifests pushed from this repository as an OCI artifact: the
			// artifact's metadata names the repository it came from.
			ocis, err := c.Watch(ctx, providers.OCIRepositoryGVR, v.syncWait)
			if err != nil {
				continue
			}
			src, ok := c.Get(ocis, ns, name)
			if !ok || !providers.SameRepo(providers.Str(src, "status", "artifact", "metadata", "org.opencontainers.image.source"), req.Repo.CloneURL) {
				continue
			}
		default:
			continue
		}
		out = append(out, providers.RefOf(k))
	}
	return out, nil
}

// tracks: an Application with a source from this repository whose path
// holds a changed file.
func tracks(app *unstructured.Unstructured, req Request) bool {
	var sources []any
	if s, ok, _ := unstructured.NestedMap(app.Object, "spec", "source"); ok {
		sources = append(sources, s)
	}
	ss, _, _ := unstructured.NestedSlice(app.Object, "spec", "sources")
	sources = append(sources, ss...)
	refs := map[string]bool{} // sources of this repository named by ref (the "chart + values" pattern)
	for _, s := range sources {
		m, _ := s.(map[string]any)
		url, _ := m["repoURL"].(string)
		path, _ := m["path"].(string)
		if !providers.SameRepo(url, req.Repo.CloneURL) {
			continue
		}
		if path != "" && holdsAny(path, req.Files) {
			return true
		}
		if ref, _ := m["ref"].(string); ref != "" {
			refs[ref] = true
		}
	}
	// A chart source takes values files from a ref source: $ref/path/to/values.yaml.
	for _, s := range sources {
		m, _ := s.(map[string]any)
		files, _, _ := unstructured.NestedStringSlice(m, "helm", "valueFiles")
		for _, f := range files {
			ref, p, ok := strings.Cut(strings.TrimPrefix(f, "$"), "/")
			if !ok || !strings.HasPrefix(f, "$") || !refs[ref] {
				continue
			}
			for _, changed := range req.Files {
				if changed == path.Clean(p) {
					return true
				}
			}
		}
	}
	return false
}

func holdsAny(dir string, files []string) bool {
	for _, f := range files {
		if providers.PathContains(dir, f) {
			return true
		}
	}
	return false
}
