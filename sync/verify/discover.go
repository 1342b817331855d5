package verify

import (
	"context"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/argocd"
	"github.com/gitops-bot/gitops-bot/sync/cluster"
)

// discover finds what a verification watches: the appliers of this
// repository whose path holds a changed file, and the objects the pull
// request manages.
// reject hears why discovery passed over an applier (nil: nobody asks).
// near: the applier came close (its path holds a changed file, or it
// follows this repository), so it is listed first.
type reject func(ref providers.Ref, near bool, why string)

func (v *Verifier) discover(ctx context.Context, c *cluster.Cluster, req Request, rej reject) ([]Target, error) {
	if rej == nil {
		rej = func(providers.Ref, bool, string) {}
	}
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
		appliers, err := v.fluxAppliers(ctx, c, req, rej)
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
			if ours, why := tracks(app, req); why == "" {
				add(providers.RefOf(app), Applier)
			} else {
				rej(providers.RefOf(app), ours, why)
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
func (v *Verifier) fluxAppliers(ctx context.Context, c *cluster.Cluster, req Request, rej reject) ([]providers.Ref, error) {
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
		if p := providers.Str(k, "spec", "path"); !holdsAny(p, req.Files) {
			rej(providers.RefOf(k), false, fmt.Sprintf("its path `%s` holds none of the changed files", p))
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
			if !ok {
				rej(providers.RefOf(k), true, fmt.Sprintf("its source GitRepository %s/%s is not in the cluster", ns, name))
				continue
			}
			if url := providers.Str(src, "spec", "url"); !providers.SameRepo(url, req.Repo.CloneURL) {
				rej(providers.RefOf(k), true, fmt.Sprintf("its source GitRepository %s/%s is `%s`, another repository", ns, name, url))
				continue
			}
		case "OCIRepository":
			// Manifests pushed from this repository as an OCI artifact: the
			// artifact's metadata names the repository it came from.
			ocis, err := c.Watch(ctx, providers.OCIRepositoryGVR, v.syncWait)
			if err != nil {
				rej(providers.RefOf(k), true, "OCIRepositories cannot be read: "+err.Error())
				continue
			}
			src, ok := c.Get(ocis, ns, name)
			if !ok || !providers.SameRepo(providers.Str(src, "status", "artifact", "metadata", "org.opencontainers.image.source"), req.Repo.CloneURL) {
				rej(providers.RefOf(k), true, fmt.Sprintf("its source OCIRepository %s/%s is missing or its artifact was not pushed from this repository", ns, name))
				continue
			}
		default:
			rej(providers.RefOf(k), true, fmt.Sprintf("its source is a %s, which is not followed back to a repository", providers.Str(k, "spec", "sourceRef", "kind")))
			continue
		}
		out = append(out, providers.RefOf(k))
	}
	return out, nil
}

// tracks: whether an Application has a source from this repository whose
// path holds a changed file; why "" when it does, else why not, and
// whether a source of it is this repository.
func tracks(app *unstructured.Unstructured, req Request) (ours bool, why string) {
	var sources []any
	index := []int{} // each source's index in spec.sources, -1 for the others
	if s, ok, _ := unstructured.NestedMap(app.Object, "spec", "source"); ok {
		sources, index = append(sources, s), append(index, -1)
	}
	ss, _, _ := unstructured.NestedSlice(app.Object, "spec", "sources")
	for i, s := range ss {
		sources, index = append(sources, s), append(index, i)
	}
	// The source hydrator renders its dry source, from this repository.
	if s, ok, _ := unstructured.NestedMap(app.Object, "spec", "sourceHydrator", "drySource"); ok {
		sources, index = append(sources, s), append(index, -1)
	}
	var paths []string
	refs := map[string]bool{} // sources of this repository named by ref (the "chart + values" pattern)
	for i, s := range sources {
		m, _ := s.(map[string]any)
		url, _ := m["repoURL"].(string)
		path, _ := m["path"].(string)
		if !providers.SameRepo(url, req.Repo.CloneURL) {
			continue
		}
		ours = true
		if path != "" && slices.ContainsFunc(req.Files, func(f string) bool { return argocd.SourceHolds(app, index[i], m, f) }) {
			return true, ""
		}
		if path != "" && holdsAny(path, req.Files) {
			paths = append(paths, "`"+path+"` (a directory source that does not recurse into its subdirectories)")
		} else if path != "" {
			paths = append(paths, "`"+path+"`")
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
					return true, ""
				}
			}
		}
	}
	switch {
	case !ours:
		return false, "no source of it is this repository"
	case len(paths) > 0:
		return true, "its path " + strings.Join(paths, ", ") + " holds none of the changed files"
	}
	return true, "none of its sources from this repository holds or names a changed file"
}

func holdsAny(dir string, files []string) bool {
	for _, f := range files {
		if providers.PathContains(dir, f) {
			return true
		}
	}
	return false
}

// explainNoTargets says, for a neutral verdict, which files were looked for
// and why each applier in the cluster was passed over.
func (v *Verifier) explainNoTargets(ctx context.Context, c *cluster.Cluster, req Request) string {
	const most = 20
	var b strings.Builder
	b.WriteString("Changed files looked for:\n")
	for i, f := range req.Files {
		if i == most {
			fmt.Fprintf(&b, "- … and %d more\n", len(req.Files)-most)
			break
		}
		fmt.Fprintf(&b, "- `%s`\n", f)
	}
	if len(req.Files) == 0 {
		b.WriteString("- none in this environment's directory or shared by environments\n")
	}
	var near, far []string
	_, err := v.discover(ctx, c, req, func(ref providers.Ref, isNear bool, why string) {
		l := fmt.Sprintf("- %s: %s", ref, why)
		if isNear {
			near = append(near, l)
		} else {
			far = append(far, l)
		}
	})
	sort.Strings(near)
	sort.Strings(far)
	lines := append(near, far...)
	kind := map[string]string{"flux": "Kustomizations", "argocd": "Argo CD Applications"}[req.Provider]
	switch {
	case err != nil:
		fmt.Fprintf(&b, "\nThe %s could not be listed again to say why: %v\n", kind, err)
	case len(lines) == 0:
		fmt.Fprintf(&b, "\nThe cluster has no %s.\n", kind)
	default:
		fmt.Fprintf(&b, "\n%s considered, and why each was passed over:\n", kind)
		for i, l := range lines {
			if i == most {
				fmt.Fprintf(&b, "- … and %d more\n", len(lines)-most)
				break
			}
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
