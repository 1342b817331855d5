// Package providers turns a deployment request into the objects Argo CD or
// Flux reconcile. Each provider lives in its own package; this one holds what
// they share: the request, the generated manifests and their encoding.
package providers

import (
	"fmt"
	"net/url"
	"path"
	"strings"
)

// Provider generates the GitOps objects of one tool.
type Provider interface {
	Name() string // "argocd", "flux"
	// GenerateChart deploys a third-party Helm chart into one environment.
	GenerateChart(req ChartRequest) ([]Manifest, error)
	// WireApp writes the objects that make the tool deploy an application
	// kept in this repository (its files come from package app).
	WireApp(req AppRequest) ([]Manifest, error)
}

// Versioned is a provider that writes what it generates in the API
// versions an environment's own objects use (have: kind -> apiVersion).
type Versioned interface {
	InVersions(objs []Object, have map[string]string) ([]Object, error)
}

// Environment is where a deployment goes, as the repository config describes it.
type Environment struct {
	Name string
	Dir  string // directory of the environment's GitOps objects, e.g. clusters/staging
	// Namespace holds the Flux objects or the Argo CD Applications (flux-system, argocd).
	Namespace string
	// Argo CD only.
	Project           string
	DestinationServer string
	DestinationName   string
}

// Chart is a Helm chart in a repository: an https index or an OCI registry.
type Chart struct {
	RepoURL string // https://stefanprodan.github.io/podinfo or oci://ghcr.io/stefanprodan/charts
	Name    string // podinfo
	Version string // exact version or semver range
}

// OCI reports whether the chart lives in an OCI registry.
func (c Chart) OCI() bool { return strings.HasPrefix(c.RepoURL, "oci://") }

// ParseChart splits a chart reference "REPO_URL/NAME" such as
// https://stefanprodan.github.io/podinfo/podinfo or
// oci://ghcr.io/stefanprodan/charts/podinfo.
func ParseChart(ref, version string) (Chart, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return Chart{}, fmt.Errorf("chart %q is not a URL: %v", ref, err)
	}
	switch u.Scheme {
	case "https", "http", "oci":
	default:
		return Chart{}, fmt.Errorf("chart %q: want an https:// or oci:// URL ending in the chart name", ref)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return Chart{}, fmt.Errorf("chart %q: want scheme://host/path/CHART with no credentials, query or fragment", ref)
	}
	p := strings.TrimSuffix(u.Path, "/")
	dir, name := path.Split(p)
	if name == "" {
		return Chart{}, fmt.Errorf("chart %q: the URL must end in the chart name", ref)
	}
	if u.Scheme == "oci" && strings.Trim(dir, "/") == "" {
		return Chart{}, fmt.Errorf("chart %q: an OCI chart needs a registry path before its name", ref)
	}
	if version == "" {
		return Chart{}, fmt.Errorf("chart %q needs --version", ref)
	}
	return Chart{
		RepoURL: u.Scheme + "://" + u.Host + strings.TrimSuffix(dir, "/"),
		Name:    name,
		Version: version,
	}, nil
}

// ChartRequest is "/deploy APP --chart ...", for one environment.
type ChartRequest struct {
	App       string
	Namespace string // where the release runs
	Env       Environment
	Chart     Chart
	Values    map[string]any
	// Source is an existing HelmRepository with the chart's URL to reuse.
	Source *Ref
}

// AppRequest is "/deploy APP --image ...": an application whose manifests
// (a Kustomize base and overlays, or a chart) live in this repository.
type AppRequest struct {
	App       string
	Namespace string
	Image     Image
	Port      int32
	Replicas  int32
	Host      string // Ingress host; "" for none
	Format    string // FormatKustomize or FormatHelm
	Envs      []AppEnvironment
	Base      string // Kustomize base directory
	Chart     string // chart directory
	AppSet    string // file of the Argo CD ApplicationSet, for several environments
	Repo      GitSource
	// GitRepository is an existing Flux source of this repository to reuse,
	// per environment name.
	GitRepository map[string]Ref
}

// Formats of an application.
const (
	FormatKustomize = "kustomize"
	FormatHelm      = "helm"
)

// AppEnvironment is an environment with the application's paths in it.
type AppEnvironment struct {
	Environment
	Overlay string // Kustomize overlay directory
	Values  string // the chart's values file of this environment
	Wiring  string // file of the Flux/Argo CD objects
	// Namespace the application runs in here: the request's, or its own
	// where environments share a cluster.
	AppNamespace string
}

// RunsIn is the namespace the application runs in, in environment e.
func (r AppRequest) RunsIn(e AppEnvironment) string {
	if e.AppNamespace != "" {
		return e.AppNamespace
	}
	return r.Namespace
}

// Image is a container image, split for kustomize's images: field; a
// digest, when given, pins it.
type Image struct{ Name, Tag, Digest string }

func (i Image) String() string {
	if i.Digest != "" {
		return i.Name + ":" + i.Tag + "@" + i.Digest
	}
	return i.Name + ":" + i.Tag
}

// GitSource is this repository as Argo CD and Flux fetch it.
type GitSource struct{ URL, Branch string }

// Manifest is one file: generated objects, or Raw content (a chart
// template, a kustomization) that is not a Kubernetes object.
type Manifest struct {
	Path    string
	Env     string // environment name
	Objects []Object
	Raw     []byte
	Delete  bool // the change removes the file
}

// Object is a generated Kubernetes object, as a plain map (the JSON form of
// its typed value), so that every provider encodes and validates alike.
type Object map[string]any

// Ref names an object.
type Ref struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

func (r Ref) String() string {
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}

// Ref reads an object's identity.
func (o Object) Ref() Ref {
	meta, _ := o["metadata"].(map[string]any)
	s := func(m map[string]any, k string) string { v, _ := m[k].(string); return v }
	return Ref{APIVersion: s(o, "apiVersion"), Kind: s(o, "kind"), Namespace: s(meta, "namespace"), Name: s(meta, "name")}
}
