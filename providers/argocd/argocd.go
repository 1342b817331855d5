// Package argocd generates Argo CD Applications.
package argocd

import (
	"path"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitops-bot/gitops-bot/providers"
)

// DefaultServer is the in-cluster destination Argo CD knows by default.
const DefaultServer = "https://kubernetes.default.svc"

// Provider is the Argo CD provider.
type Provider struct{}

func (Provider) Name() string { return "argocd" }

// GenerateChart writes one Application with a Helm source into
// <env dir>/<app>.yaml. Applications of all environments often share one
// Argo CD namespace, so the Application is named <app>-<env>.
func (Provider) GenerateChart(req providers.ChartRequest) ([]providers.Manifest, error) {
	repoURL := req.Chart.RepoURL
	if req.Chart.OCI() {
		// Argo CD names OCI Helm repositories without the scheme.
		repoURL = strings.TrimPrefix(repoURL, "oci://")
	}
	app := &Application{
		TypeMeta: metav1.TypeMeta{APIVersion: APIVersion, Kind: "Application"},
		ObjectMeta: metav1.ObjectMeta{
			Name:       req.App + "-" + req.Env.Name,
			Namespace:  req.Env.Namespace,
			Labels:     map[string]string{"app.kubernetes.io/managed-by": "gitops-bot"},
			Finalizers: []string{ResourcesFinalizer},
		},
		Spec: ApplicationSpec{
			Project: req.Env.Project,
			Source: &ApplicationSource{
				RepoURL:        repoURL,
				Chart:          req.Chart.Name,
				TargetRevision: req.Chart.Version,
				Helm:           &HelmSource{ReleaseName: req.App, ValuesObject: req.Values},
			},
			Destination: destination(req.Env, req.Namespace),
			SyncPolicy: &SyncPolicy{
				Automated:   &SyncPolicyAutomated{Prune: true, SelfHeal: true},
				SyncOptions: []string{"CreateNamespace=true"},
			},
		},
	}
	obj, err := providers.ToObject(app)
	if err != nil {
		return nil, err
	}
	return []providers.Manifest{{Path: path.Join(req.Env.Dir, req.App+".yaml"), Env: req.Env.Name, Objects: []providers.Object{obj}}}, nil
}

func destination(env providers.Environment, namespace string) ApplicationDestination {
	d := ApplicationDestination{Namespace: namespace, Name: env.DestinationName}
	if d.Name == "" {
		d.Server = env.DestinationServer
		if d.Server == "" {
			d.Server = DefaultServer
		}
	}
	return d
}
