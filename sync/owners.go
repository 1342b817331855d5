package sync

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-bot/gitops-bot/providers"
)

// Owner is a GitOps object that applies a workload, with where it takes
// the workload from.
type Owner struct {
	Ref               providers.Ref
	RepoURL           string // the Git repository it applies
	Path              string // the directory in it
	Revision          string // what it applied last
	WorkloadNamespace string // where the workload runs
}

// Owners finds, in a cluster's informer caches, the Flux Kustomizations
// (by their inventory), the Argo CD Applications (by status.resources) and
// the Flux HelmReleases (by release name) that apply a workload of kind and
// name in any namespace. Only objects the bot may already list are read: no
// workload is fetched.
func (v *Verifier) Owners(ctx context.Context, cluster, kind, name string) ([]Owner, error) {
	c, ok := v.clusters[cluster]
	if !ok {
		return nil, fmt.Errorf("no cluster named %q is configured", cluster)
	}
	return c.Owners(ctx, kind, name, min(v.syncWait, 5*time.Second))
}

// Owners is Verifier.Owners on one cluster.
func (c *Cluster) Owners(ctx context.Context, kind, name string, wait time.Duration) ([]Owner, error) {
	listed := 0
	var firstErr error
	list := func(gvr schema.GroupVersionResource) ([]*unstructured.Unstructured, error) {
		inf, err := c.watch(ctx, gvr, wait)
		if err != nil {
			// A kind not installed here (Argo CD in a Flux cluster) owns nothing.
			if firstErr == nil {
				firstErr = err
			}
			return nil, nil
		}
		listed++
		var out []*unstructured.Unstructured
		for _, o := range inf.GetStore().List() {
			out = append(out, o.(*unstructured.Unstructured))
		}
		return out, nil
	}
	ks, err := list(providers.KustomizationGVR)
	if err != nil {
		return nil, err
	}
	repos, err := list(providers.GitRepositoryGVR)
	if err != nil {
		return nil, err
	}
	apps, err := list(providers.ApplicationGVR)
	if err != nil {
		return nil, err
	}
	releases, err := list(providers.HelmReleaseGVR)
	if err != nil {
		return nil, err
	}
	if listed == 0 {
		return nil, firstErr
	}
	repoURL := func(k *unstructured.Unstructured) string {
		ns := providers.Str(k, "spec", "sourceRef", "namespace")
		if ns == "" {
			ns = k.GetNamespace()
		}
		for _, r := range repos {
			if r.GetNamespace() == ns && r.GetName() == providers.Str(k, "spec", "sourceRef", "name") {
				return providers.Str(r, "spec", "url")
			}
		}
		return ""
	}
	// applier: the Kustomization whose inventory holds an object.
	applier := func(group, kind, ns, name string) *unstructured.Unstructured {
		for _, k := range ks {
			entries, _, _ := unstructured.NestedSlice(k.Object, "status", "inventory", "entries")
			for _, e := range entries {
				m, _ := e.(map[string]any)
				if id, _ := m["id"].(string); inventoryMatch(id, group, kind, ns, name) {
					return k
				}
			}
		}
		return nil
	}
	kustomizationOwner := func(k *unstructured.Unstructured, ns string) Owner {
		return Owner{Ref: refOf(k), RepoURL: repoURL(k), Path: strings.TrimPrefix(providers.Str(k, "spec", "path"), "./"),
			Revision: providers.Str(k, "status", "lastAppliedRevision"), WorkloadNamespace: ns}
	}

	var out []Owner
	for _, k := range ks {
		entries, _, _ := unstructured.NestedSlice(k.Object, "status", "inventory", "entries")
		for _, e := range entries {
			m, _ := e.(map[string]any)
			id, _ := m["id"].(string)
			if ns, ok := inventoryWorkload(id, kind, name); ok {
				out = append(out, kustomizationOwner(k, ns))
			}
		}
	}
	for _, a := range apps {
		res, _, _ := unstructured.NestedSlice(a.Object, "status", "resources")
		for _, r := range res {
			m, _ := r.(map[string]any)
			if m["kind"] == kind && m["name"] == name {
				ns, _ := m["namespace"].(string)
				out = append(out, Owner{Ref: refOf(a), RepoURL: providers.Str(a, "spec", "source", "repoURL"),
					Path: providers.Str(a, "spec", "source", "path"), Revision: providers.Str(a, "status", "sync", "revision"), WorkloadNamespace: ns})
			}
		}
	}
	for _, hr := range releases {
		release := providers.Str(hr, "spec", "releaseName")
		if release == "" {
			release = hr.GetName()
		}
		if release != name {
			continue
		}
		ns := providers.Str(hr, "spec", "targetNamespace")
		if ns == "" {
			ns = hr.GetNamespace()
		}
		o := Owner{Ref: refOf(hr), WorkloadNamespace: ns}
		// Where the HelmRelease itself comes from: the Kustomization that applied it.
		if k := applier("helm.toolkit.fluxcd.io", "HelmRelease", hr.GetNamespace(), hr.GetName()); k != nil {
			ko := kustomizationOwner(k, ns)
			o.RepoURL, o.Path, o.Revision = ko.RepoURL, ko.Path, ko.Revision
		}
		out = append(out, o)
	}
	return out, nil
}

// Flux inventory ids are "<namespace>_<name>_<group>_<kind>".
func inventoryMatch(id, group, kind, ns, name string) bool {
	return id == ns+"_"+name+"_"+group+"_"+kind
}

// inventoryWorkload matches an id of a workload of kind and name in any
// namespace (apps group: Deployment, StatefulSet, DaemonSet).
func inventoryWorkload(id, kind, name string) (string, bool) {
	suffix := "_" + name + "_apps_" + kind
	if !strings.HasSuffix(id, suffix) {
		return "", false
	}
	return strings.TrimSuffix(id, suffix), true
}
