// Package flux generates Flux objects with Flux's own API types.
package flux

import (
	"encoding/json"
	"path"
	"time"

	"github.com/Masterminds/semver/v3"
	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitops-bot/gitops-bot/providers"
)

// Intervals follow Flux's documentation examples: sources are polled hourly
// (a chart repository changes rarely), releases reconciled every 5 minutes.
const (
	sourceInterval  = time.Hour
	releaseInterval = 5 * time.Minute
	// helmChartMediaType selects the chart layer of an OCI artifact.
	helmChartMediaType = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
)

// Provider is the Flux provider.
type Provider struct{}

func (Provider) Name() string { return "flux" }

// GenerateChart writes a HelmRepository (or OCIRepository for oci:// charts)
// and a HelmRelease into one file, <env dir>/<app>.yaml.
func (Provider) GenerateChart(req providers.ChartRequest) ([]providers.Manifest, error) {
	ns := req.Env.Namespace
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: req.App, Namespace: ns, Labels: map[string]string{"app.kubernetes.io/managed-by": "gitops-bot"}}
	}
	var source any
	release := &helmv2.HelmRelease{
		TypeMeta:   metav1.TypeMeta{APIVersion: helmv2.GroupVersion.String(), Kind: helmv2.HelmReleaseKind},
		ObjectMeta: meta(),
		Spec: helmv2.HelmReleaseSpec{
			Interval:        metav1.Duration{Duration: releaseInterval},
			ReleaseName:     req.App,
			TargetNamespace: req.Namespace,
			Install:         &helmv2.Install{CreateNamespace: true},
		},
	}
	if req.Chart.OCI() {
		ref := &sourcev1.OCIRepositoryRef{}
		if exactVersion(req.Chart.Version) {
			ref.Tag = req.Chart.Version
		} else {
			ref.SemVer = req.Chart.Version
		}
		source = &sourcev1.OCIRepository{
			TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.OCIRepositoryKind},
			ObjectMeta: meta(),
			Spec: sourcev1.OCIRepositorySpec{
				URL:           req.Chart.RepoURL + "/" + req.Chart.Name,
				Reference:     ref,
				LayerSelector: &sourcev1.OCILayerSelector{MediaType: helmChartMediaType, Operation: sourcev1.OCILayerCopy},
				Interval:      metav1.Duration{Duration: sourceInterval},
			},
		}
		release.Spec.ChartRef = &helmv2.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: req.App}
	} else if req.Source != nil {
		// The repository already has a HelmRepository of this URL: use it.
		ref := helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: req.Source.Name}
		if req.Source.Namespace != ns {
			ref.Namespace = req.Source.Namespace
		}
		release.Spec.Chart = &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{Chart: req.Chart.Name, Version: req.Chart.Version, SourceRef: ref,
			ReconcileStrategy: sourcev1.ReconcileStrategyChartVersion}}
	} else {
		source = &sourcev1.HelmRepository{
			TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.HelmRepositoryKind},
			ObjectMeta: meta(),
			Spec: sourcev1.HelmRepositorySpec{
				URL:      req.Chart.RepoURL,
				Interval: metav1.Duration{Duration: sourceInterval},
			},
		}
		release.Spec.Chart = &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
			Chart:     req.Chart.Name,
			Version:   req.Chart.Version,
			SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: req.App},
			// Flux's default, written out as flux create helmrelease does.
			ReconcileStrategy: sourcev1.ReconcileStrategyChartVersion,
		}}
	}
	if len(req.Values) > 0 {
		raw, err := json.Marshal(req.Values)
		if err != nil {
			return nil, err
		}
		release.Spec.Values = &apiextensionsv1.JSON{Raw: raw}
	}
	m := providers.Manifest{Path: path.Join(req.Env.Dir, req.App+".yaml"), Env: req.Env.Name}
	for _, t := range []any{source, release} {
		if t == nil {
			continue
		}
		o, err := providers.ToObject(t)
		if err != nil {
			return nil, err
		}
		m.Objects = append(m.Objects, o)
	}
	return []providers.Manifest{m}, nil
}

// exactVersion tells a pinned version (a tag to pull) from a range.
func exactVersion(v string) bool {
	_, err := semver.StrictNewVersion(v)
	return err == nil
}
