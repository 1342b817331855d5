package render

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"

	"github.com/gitops-bot/gitops-bot/providers/chartrender"
)

// Charts fetches a chart kept outside the repository (chartrender.Renderer).
type Charts interface {
	Load(ctx context.Context, repoURL, name, version string) (*chart.Chart, error)
}

// ErrOffline: the renderer fetches no charts.
var ErrOffline = errors.New("charts from outside the repository are not fetched (offline)")

// RemoteChart loads a chart of a Helm repository or an OCI registry.
func (b *Build) RemoteChart(ctx context.Context, repoURL, name, version string) (*chart.Chart, error) {
	if b.opts.Charts == nil {
		return nil, fmt.Errorf("chart %s %s of %s: %w", name, version, repoURL, ErrOffline)
	}
	ch, err := b.opts.Charts.Load(ctx, repoURL, name, version)
	if err != nil {
		return nil, fmt.Errorf("chart %s %s of %s: %w", name, version, repoURL, err)
	}
	return ch, nil
}

// maxChartFiles bounds a chart read from the repository.
const maxChartFiles = 2000

// LocalChart loads the chart in dir of the repository. Dependencies that
// are neither under charts/ nor file:// paths are fetched as the
// controllers' `helm dependency build` would, when charts are fetched.
func (b *Build) LocalChart(ctx context.Context, dir string) (*chart.Chart, error) {
	dir = clean(dir)
	files := b.Under(dir)
	if len(files) > maxChartFiles {
		return nil, fmt.Errorf("chart %s has more than %d files", dir, maxChartFiles)
	}
	var bf []*loader.BufferedFile
	for _, f := range files {
		c, err := b.Read(f)
		if err != nil {
			return nil, err
		}
		bf = append(bf, &loader.BufferedFile{Name: strings.TrimPrefix(f, dir+"/"), Data: c})
	}
	if len(bf) == 0 {
		return nil, fmt.Errorf("no chart in %s", dir)
	}
	ch, err := loader.LoadFiles(bf)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", dir, err)
	}
	// Dependencies the chart lists but does not carry.
	have := map[string]bool{}
	for _, d := range ch.Dependencies() {
		have[d.Name()] = true
	}
	for _, d := range ch.Metadata.Dependencies {
		if have[d.Name] {
			continue
		}
		var dep *chart.Chart
		switch {
		case strings.HasPrefix(d.Repository, "file://"):
			dep, err = b.LocalChart(ctx, path.Join(dir, strings.TrimPrefix(d.Repository, "file://")))
		case d.Repository == "":
			err = fmt.Errorf("dependency %s has no repository", d.Name)
		default:
			dep, err = b.RemoteChart(ctx, d.Repository, d.Name, d.Version)
		}
		if err != nil {
			return nil, fmt.Errorf("chart %s: dependency %s: %w", dir, d.Name, err)
		}
		ch.AddDependency(dep)
	}
	return ch, nil
}

// Release says how a chart is installed.
type Release struct {
	Name, Namespace string
	Values          map[string]any
	// Dir is the chart's directory in the repository ("" for a fetched
	// chart): rendered objects name their template file under it.
	Dir string
	// Template renders as plain `helm template` does, kustomize's
	// helmCharts inflation: no namespace filled in on objects that lack
	// one, CRDs only with IncludeCRDs, test hooks unless SkipTests.
	Template               bool
	IncludeCRDs, SkipTests bool
}

// RenderChart renders a chart as `helm template --include-crds` does, with
// the values given merged over the chart's defaults.
func RenderChart(ch *chart.Chart, rel Release) ([]Object, error) {
	if err := chartutil.ProcessDependenciesWithMerge(ch, rel.Values); err != nil {
		return nil, fmt.Errorf("chart %s: %w", ch.Name(), err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	// The values schema is not checked: a chart's schema may $ref URLs,
	// and a render never fetches what a chart asks for.
	vals, err := chartutil.ToRenderValuesWithSchemaValidation(ch, rel.Values, chartutil.ReleaseOptions{Name: rel.Name, Namespace: rel.Namespace, IsInstall: true, Revision: 1}, caps, true)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", ch.Name(), err)
	}
	rendered, err := engine.Render(ch, vals)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", ch.Name(), err)
	}
	var out []Object
	crds := ch.CRDObjects()
	if rel.Template && !rel.IncludeCRDs {
		crds = nil
	}
	for _, crd := range crds {
		objs, err := chartrender.Decode(string(crd.File.Data))
		if err != nil {
			return nil, fmt.Errorf("chart %s: %s: %w", ch.Name(), crd.Filename, err)
		}
		for _, o := range objs {
			out = append(out, Object{Obj: o, File: chartFile(rel.Dir, crd.Filename)})
		}
	}
	names := chartrender.ManifestNames(rendered)
	sort.Strings(names)
	for _, n := range names {
		objs, err := chartrender.Decode(rendered[n])
		if err != nil {
			return nil, fmt.Errorf("chart %s: %s: %w", ch.Name(), n, err)
		}
		for _, o := range objs {
			if isTestHook(o) && (!rel.Template || rel.SkipTests) {
				continue
			}
			if ns, _ := o["metadata"].(map[string]any); ns != nil && rel.Namespace != "" && !rel.Template {
				if _, set := ns["namespace"]; !set && namespaced(o) {
					ns["namespace"] = rel.Namespace
				}
			}
			out = append(out, Object{Obj: o, File: chartFile(rel.Dir, n)})
		}
	}
	return out, nil
}

// Layers are the values a chart renders with: its own and its
// subcharts' defaults under what the release gives.
func Layers(ch *chart.Chart, values map[string]any, files []string) *HelmLayers {
	v, err := chartutil.CoalesceValues(ch, copyValues(values))
	if err != nil {
		v = values
	}
	return &HelmLayers{Values: v, Files: files, Chart: ch.Name(), Version: ch.Metadata.Version}
}

func copyValues(v map[string]any) map[string]any {
	out := make(map[string]any, len(v))
	for k, e := range v {
		if m, ok := e.(map[string]any); ok {
			e = copyValues(m)
		}
		out[k] = e
	}
	return out
}

// chartFile is the repository file of a rendered template: names are
// "CHART/templates/x.yaml" (a subchart's under CHART/charts/SUB/).
func chartFile(dir, name string) string {
	if dir == "" {
		return ""
	}
	_, rest, _ := strings.Cut(name, "/")
	return path.Join(dir, rest)
}

func isTestHook(o map[string]any) bool {
	meta, _ := o["metadata"].(map[string]any)
	ann, _ := meta["annotations"].(map[string]any)
	h, _ := ann["helm.sh/hook"].(string)
	return strings.Contains(h, "test")
}

// clusterScoped are the kinds of the core API a chart may make that have
// no namespace; the controllers leave these without one.
var clusterScoped = map[string]bool{
	"Namespace": true, "ClusterRole": true, "ClusterRoleBinding": true, "CustomResourceDefinition": true,
	"PersistentVolume": true, "StorageClass": true, "PriorityClass": true, "IngressClass": true,
	"ValidatingWebhookConfiguration": true, "MutatingWebhookConfiguration": true, "APIService": true,
	"RuntimeClass": true, "CSIDriver": true, "ClusterIssuer": true, "Node": true,
}

func namespaced(o map[string]any) bool {
	k, _ := o["kind"].(string)
	return !clusterScoped[k]
}
