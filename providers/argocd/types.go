package argocd

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// The few Argo CD fields the bot writes. The project does not import Argo CD
// itself (a very large module for a handful of structs); these mirror
// argoproj.io/v1alpha1 and are checked against the real CRD in tests.

const (
	Group      = "argoproj.io"
	Version    = "v1alpha1"
	APIVersion = Group + "/" + Version
	// ResourcesFinalizer makes deleting the Application delete what it deployed.
	ResourcesFinalizer = "resources-finalizer.argocd.argoproj.io"
)

type Application struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ApplicationSpec `json:"spec"`
}

type ApplicationSpec struct {
	Project     string                 `json:"project"`
	Source      *ApplicationSource     `json:"source,omitempty"`
	Sources     []ApplicationSource    `json:"sources,omitempty"`
	Destination ApplicationDestination `json:"destination"`
	SyncPolicy  *SyncPolicy            `json:"syncPolicy,omitempty"`
}

type ApplicationSource struct {
	RepoURL        string           `json:"repoURL"`
	Path           string           `json:"path,omitempty"`
	Chart          string           `json:"chart,omitempty"`
	TargetRevision string           `json:"targetRevision,omitempty"`
	Helm           *HelmSource      `json:"helm,omitempty"`
	Kustomize      *KustomizeSource `json:"kustomize,omitempty"`
	Ref            string           `json:"ref,omitempty"`
}

type HelmSource struct {
	ReleaseName  string         `json:"releaseName,omitempty"`
	ValueFiles   []string       `json:"valueFiles,omitempty"`
	ValuesObject map[string]any `json:"valuesObject,omitempty"`
}

type KustomizeSource struct {
	Images []string `json:"images,omitempty"`
}

type ApplicationDestination struct {
	Server    string `json:"server,omitempty"`
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

type SyncPolicy struct {
	Automated   *SyncPolicyAutomated `json:"automated,omitempty"`
	SyncOptions []string             `json:"syncOptions,omitempty"`
}

type SyncPolicyAutomated struct {
	Prune    bool `json:"prune,omitempty"`
	SelfHeal bool `json:"selfHeal,omitempty"`
}

// ApplicationSet with a list generator, the only generator the bot writes.
type ApplicationSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ApplicationSetSpec `json:"spec"`
}

type ApplicationSetSpec struct {
	GoTemplate        bool                      `json:"goTemplate,omitempty"`
	GoTemplateOptions []string                  `json:"goTemplateOptions,omitempty"`
	Generators        []ApplicationSetGenerator `json:"generators"`
	Template          ApplicationSetTemplate    `json:"template"`
}

type ApplicationSetGenerator struct {
	List *ListGenerator `json:"list,omitempty"`
}

type ListGenerator struct {
	Elements []map[string]string `json:"elements"`
}

type ApplicationSetTemplate struct {
	Metadata ApplicationSetTemplateMeta `json:"metadata"`
	Spec     ApplicationSpec            `json:"spec"`
}

type ApplicationSetTemplateMeta struct {
	Name       string            `json:"name"`
	Namespace  string            `json:"namespace,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	Finalizers []string          `json:"finalizers,omitempty"`
}
