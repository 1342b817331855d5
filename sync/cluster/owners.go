package cluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
func (s Set) Owners(ctx context.Context, cluster, kind, name string) ([]Owner, error) {
	c, ok := s[cluster]
	if !ok {
		return nil, fmt.Errorf("no cluster named %q is configured", cluster)
	}
	return c.Owners(ctx, kind, name, ownersWait)
}

// ownersWait bounds the wait for a first list on a command's path: a reply
// should not hang on a cluster that does not answer.
const ownersWait = 5 * time.Second

// Set is the clusters the bot knows, by name; "" is the default cluster.
type Set map[string]*Cluster

// Owners is Set.Owners on one cluster.
func (c *Cluster) Owners(ctx context.Context, kind, name string, wait time.Duration) ([]Owner, error) {
	listed := 0
	var firstErr error
	list := func(gvr schema.GroupVersionResource) ([]*unstructured.Unstructured, error) {
		inf, err := c.Watch(ctx, gvr, wait)
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
			for id := range strings.Lines(Owned(k)) {
				if strings.TrimSuffix(id, "\n") == ns+"_"+name+"_"+group+"_"+kind {
					return k
				}
			}
		}
		return nil
	}
	kustomizationOwner := func(k *unstructured.Unstructured, ns string) Owner {
		return Owner{Ref: providers.RefOf(k), RepoURL: repoURL(k), Path: strings.TrimPrefix(providers.Str(k, "spec", "path"), "./"),
			Revision: providers.Str(k, "status", "lastAppliedRevision"), WorkloadNamespace: ns}
	}

	var out []Owner
	for _, k := range ks {
		for id := range strings.Lines(Owned(k)) {
			if ns, ok := ownedWorkload(id, "apps", kind, name); ok {
				out = append(out, kustomizationOwner(k, ns))
			}
		}
	}
	for _, a := range apps {
		for id := range strings.Lines(Owned(a)) {
			if ns, ok := ownedWorkload(id, "", kind, name); ok {
				out = append(out, Owner{Ref: providers.RefOf(a), RepoURL: providers.Str(a, "spec", "source", "repoURL"),
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
		o := Owner{Ref: providers.RefOf(hr), WorkloadNamespace: ns}
		// Where the HelmRelease itself comes from: the Kustomization that applied it.
		if k := applier("helm.toolkit.fluxcd.io", "HelmRelease", hr.GetNamespace(), hr.GetName()); k != nil {
			ko := kustomizationOwner(k, ns)
			o.RepoURL, o.Path, o.Revision = ko.RepoURL, ko.Path, ko.Revision
		}
		out = append(out, o)
	}
	if len(out) == 0 {
		return c.ownersFromLabels(ctx, kind, name, repoURL, ks)
	}
	return out, nil
}

// NotGitOps says a workload runs in the cluster but no Argo CD or Flux
// object manages it; ManagedBy names what does, when the workload says.
type NotGitOps struct {
	Namespace, ManagedBy string
}

func (e *NotGitOps) Error() string {
	if e.ManagedBy != "" {
		return fmt.Sprintf("it runs in namespace %s, managed by %s, not by Argo CD or Flux", e.Namespace, e.ManagedBy)
	}
	return fmt.Sprintf("it runs in namespace %s, but no Argo CD or Flux object manages it", e.Namespace)
}

// ownersFromLabels reads the workload itself (one list by name) for the
// labels Flux and Argo CD put on what they apply.
func (c *Cluster) ownersFromLabels(ctx context.Context, kind, name string, repoURL func(*unstructured.Unstructured) string, ks []*unstructured.Unstructured) ([]Owner, error) {
	resource := map[string]string{"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}[kind]
	if resource == "" {
		return nil, nil
	}
	list, err := c.dyn.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: resource}).
		List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", kind, name, err)
	}
	var out []Owner
	for _, w := range list.Items {
		l, a := w.GetLabels(), w.GetAnnotations()
		switch {
		case l["kustomize.toolkit.fluxcd.io/name"] != "":
			ref := providers.Ref{APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization", Namespace: l["kustomize.toolkit.fluxcd.io/namespace"], Name: l["kustomize.toolkit.fluxcd.io/name"]}
			o := Owner{Ref: ref, WorkloadNamespace: w.GetNamespace()}
			for _, k := range ks {
				if k.GetNamespace() == ref.Namespace && k.GetName() == ref.Name {
					o.RepoURL, o.Path, o.Revision = repoURL(k), strings.TrimPrefix(providers.Str(k, "spec", "path"), "./"), providers.Str(k, "status", "lastAppliedRevision")
				}
			}
			out = append(out, o)
		case l["helm.toolkit.fluxcd.io/name"] != "":
			out = append(out, Owner{Ref: providers.Ref{APIVersion: "helm.toolkit.fluxcd.io/v2", Kind: "HelmRelease",
				Namespace: l["helm.toolkit.fluxcd.io/namespace"], Name: l["helm.toolkit.fluxcd.io/name"]}, WorkloadNamespace: w.GetNamespace()})
		case a["argocd.argoproj.io/tracking-id"] != "":
			app, _, _ := strings.Cut(a["argocd.argoproj.io/tracking-id"], ":")
			out = append(out, Owner{Ref: providers.Ref{APIVersion: "argoproj.io/v1alpha1", Kind: "Application", Name: app}, WorkloadNamespace: w.GetNamespace()})
		case l["app.kubernetes.io/instance"] != "" && l["app.kubernetes.io/managed-by"] == "":
			// Argo CD's default tracking label.
			out = append(out, Owner{Ref: providers.Ref{APIVersion: "argoproj.io/v1alpha1", Kind: "Application", Name: l["app.kubernetes.io/instance"]}, WorkloadNamespace: w.GetNamespace()})
		default:
			return nil, &NotGitOps{Namespace: w.GetNamespace(), ManagedBy: l["app.kubernetes.io/managed-by"]}
		}
	}
	return out, nil
}

// ownedWorkload matches an inventory id ("<namespace>_<name>_<group>_<kind>",
// see Owned) of a workload of kind and name in any namespace, and of group
// unless group is "" (Argo CD's resources are matched by kind and name).
func ownedWorkload(id, group, kind, name string) (string, bool) {
	parts := strings.Split(strings.TrimSuffix(id, "\n"), "_")
	if len(parts) != 4 || parts[1] != name || parts[3] != kind || group != "" && parts[2] != group {
		return "", false
	}
	return parts[0], true
}

// Object returns a GitOps object from a cluster's informer cache; nil when
// the cluster has none by that name.
func (s Set) Object(ctx context.Context, cluster string, ref providers.Ref) (*unstructured.Unstructured, error) {
	c, ok := s[cluster]
	if !ok {
		return nil, fmt.Errorf("no cluster named %q is configured", cluster)
	}
	gvr, ok := providers.GVRForKind(ref.Kind)
	if !ok {
		return nil, fmt.Errorf("%s is not a kind the bot watches", ref.Kind)
	}
	inf, err := c.Watch(ctx, gvr, ownersWait)
	if err != nil {
		return nil, err
	}
	o, _ := c.Get(inf, ref.Namespace, ref.Name)
	return o, nil
}

// Images returns the container images of the Deployment name in namespace,
// as the cluster runs it now: one list by name, which the bot's
// ClusterRole allows (what a Kustomization applies is not in its status).
// Nil when there is no such Deployment.
func (s Set) Images(ctx context.Context, cluster, namespace, name string) ([]string, error) {
	c, ok := s[cluster]
	if !ok {
		return nil, fmt.Errorf("no cluster named %q is configured", cluster)
	}
	list, err := c.dyn.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).Namespace(namespace).
		List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		return nil, fmt.Errorf("reading Deployment %s/%s: %w", namespace, name, err)
	}
	var out []string
	for _, d := range list.Items {
		containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		for _, ct := range containers {
			if m, ok := ct.(map[string]any); ok {
				if img, ok := m["image"].(string); ok {
					out = append(out, img)
				}
			}
		}
	}
	return out, nil
}
