package flux

import (
	"path"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitops-bot/gitops-bot/providers"
)

// WireApp writes, per environment, a Kustomization of the overlay or a
// HelmRelease of the chart, with a GitRepository of this repository unless
// one is there already.
func (Provider) WireApp(req providers.AppRequest) ([]providers.Manifest, error) {
	var out []providers.Manifest
	for _, e := range req.Envs {
		meta := metav1.ObjectMeta{Name: req.App, Namespace: e.Namespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "gitops-bot"}}
		var objs []any
		src, ok := req.GitRepository[e.Name]
		if !ok {
			src = providers.Ref{Kind: sourcev1.GitRepositoryKind, Namespace: e.Namespace, Name: req.App}
			objs = append(objs, &sourcev1.GitRepository{
				TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.GitRepositoryKind},
				ObjectMeta: meta,
				Spec: sourcev1.GitRepositorySpec{
					URL:       req.Repo.URL,
					Reference: &sourcev1.GitRepositoryRef{Branch: req.Repo.Branch},
					Interval:  metav1.Duration{Duration: time.Minute},
				},
			})
		}
		srcNS := ""
		if src.Namespace != e.Namespace {
			srcNS = src.Namespace
		}
		if req.Format == providers.FormatHelm {
			objs = append(objs, &helmv2.HelmRelease{
				TypeMeta:   metav1.TypeMeta{APIVersion: helmv2.GroupVersion.String(), Kind: helmv2.HelmReleaseKind},
				ObjectMeta: meta,
				Spec: helmv2.HelmReleaseSpec{
					Interval:        metav1.Duration{Duration: releaseInterval},
					ReleaseName:     req.App,
					TargetNamespace: req.Namespace,
					Install:         &helmv2.Install{CreateNamespace: true},
					Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
						Chart:     "./" + req.Chart,
						SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.GitRepositoryKind, Name: src.Name, Namespace: srcNS},
						// A chart in Git changes without a version bump: follow every commit.
						ReconcileStrategy: sourcev1.ReconcileStrategyRevision,
						ValuesFiles:       []string{path.Join(req.Chart, "values.yaml"), e.Values},
					}},
				},
			})
		} else {
			objs = append(objs, &kustomizev1.Kustomization{
				TypeMeta:   metav1.TypeMeta{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind},
				ObjectMeta: meta,
				Spec: kustomizev1.KustomizationSpec{
					Interval:  metav1.Duration{Duration: 10 * time.Minute},
					Path:      "./" + e.Overlay,
					Prune:     true,
					Wait:      true,
					Timeout:   &metav1.Duration{Duration: 5 * time.Minute},
					SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: src.Name, Namespace: srcNS},
				},
			})
		}
		m := providers.Manifest{Path: e.Wiring, Env: e.Name}
		for _, t := range objs {
			o, err := providers.ToObject(t)
			if err != nil {
				return nil, err
			}
			m.Objects = append(m.Objects, o)
		}
		out = append(out, m)
	}
	return out, nil
}
