package flux

import (
	"context"
	"fmt"
	"path"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/strvals"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/render"
)

// helmRelease renders a HelmRelease as helm-controller installs it.
func helmRelease(ctx context.Context, b *render.Build, o render.Object) render.Expansion {
	spec := obj(o.Obj, "spec")
	ns := o.Namespace()
	target := str(spec, "targetNamespace")
	if target == "" {
		target = ns
	}
	release := str(spec, "releaseName")
	if release == "" {
		release = o.Name()
		if t := str(spec, "targetNamespace"); t != "" {
			release = t + "-" + o.Name()
		}
	}
	ch, dir, src, err := releaseChart(ctx, b, o)
	x := render.Expansion{Source: src}
	if err != nil {
		x.Err = err
		return x
	}
	values, err := ReleaseValues(b, o, ch)
	if err != nil {
		x.Err = err
		return x
	}
	var files []string
	if dir != "" {
		files = []string{path.Join(dir, "values.yaml")}
		if vf := strs(obj(spec, "chart", "spec")["valuesFiles"]); len(vf) > 0 {
			files = nil
			for _, f := range vf {
				files = append(files, strings.TrimPrefix(path.Clean("/"+f), "/"))
			}
		}
	}
	x.Helm = render.Layers(ch, values, files)
	objs, err := render.RenderChart(ch, render.Release{Name: release, Namespace: target, Values: values, Dir: dir})
	if err != nil {
		x.Err = err
		return x
	}
	if prs, _ := spec["postRenderers"].([]any); len(prs) > 0 {
		if objs, err = postRender(prs, objs); err != nil {
			x.Err = fmt.Errorf("postRenderers: %w", err)
			return x
		}
	}
	x.Objects = objs
	return x
}

// releaseChart finds a release's chart: spec.chart's source (a
// HelmRepository, this repository's GitRepository) or spec.chartRef (an
// OCIRepository, a HelmChart). dir is its directory when this repository
// holds it.
func releaseChart(ctx context.Context, b *render.Build, o render.Object) (*chart.Chart, string, string, error) {
	spec := obj(o.Obj, "spec")
	if ref := obj(spec, "chartRef"); ref != nil {
		kind, name, ns := str(ref, "kind"), str(ref, "name"), str(ref, "namespace")
		if ns == "" {
			ns = o.Namespace()
		}
		src := b.Find(kind, ns, name)
		if src == nil {
			if !b.Final {
				return nil, "", "", render.ErrWait
			}
			return nil, "", "", fmt.Errorf("chartRef %s %s/%s: not in the environment", kind, ns, name)
		}
		switch kind {
		case "OCIRepository":
			u := str(src.Obj, "spec", "url")
			ver := str(src.Obj, "spec", "ref", "tag")
			if s := str(src.Obj, "spec", "ref", "semver"); s != "" {
				ver = s
			}
			if d := str(src.Obj, "spec", "ref", "digest"); d != "" {
				ver = d
			}
			repo, name := path.Split(strings.TrimSuffix(u, "/"))
			ch, err := b.RemoteChart(ctx, strings.TrimSuffix(repo, "/"), name, ver)
			return ch, "", fmt.Sprintf("chart %s %s", u, ver), err
		case "HelmChart":
			return chartFrom(ctx, b, src.Namespace(), obj(src.Obj, "spec"))
		}
		return nil, "", "", fmt.Errorf("chartRef kind %s is not one Flux knows", kind)
	}
	cs := obj(spec, "chart", "spec")
	if cs == nil {
		return nil, "", "", fmt.Errorf("no spec.chart nor spec.chartRef")
	}
	return chartFrom(ctx, b, o.Namespace(), cs)
}

// chartFrom loads a chart template (a HelmRelease's spec.chart.spec, a
// HelmChart's spec) from its source.
func chartFrom(ctx context.Context, b *render.Build, ns string, cs map[string]any) (*chart.Chart, string, string, error) {
	ref := obj(cs, "sourceRef")
	kind, name := str(ref, "kind"), str(ref, "name")
	if n := str(ref, "namespace"); n != "" {
		ns = n
	}
	chartName, version := str(cs, "chart"), str(cs, "version")
	src := b.Find(kind, ns, name)
	if src == nil && !b.Final {
		return nil, "", "", render.ErrWait
	}
	switch kind {
	case "HelmRepository":
		if src == nil {
			return nil, "", "", fmt.Errorf("HelmRepository %s/%s: not in the environment", ns, name)
		}
		u := str(src.Obj, "spec", "url")
		if str(src.Obj, "spec", "type") == "oci" && !strings.HasPrefix(u, "oci://") {
			u = "oci://" + u
		}
		ch, err := b.RemoteChart(ctx, u, chartName, version)
		return ch, "", fmt.Sprintf("chart %s %s of %s", chartName, version, u), err
	case "GitRepository":
		if src != nil && !b.ThisRepo(str(src.Obj, "spec", "url")) {
			return nil, "", "", fmt.Errorf("the chart %s is in %s, another repository", chartName, str(src.Obj, "spec", "url"))
		}
		dir := strings.TrimPrefix(path.Clean("/"+chartName), "/")
		ch, err := b.LocalChart(ctx, dir)
		if err == nil && len(strs(cs["valuesFiles"])) > 0 {
			// valuesFiles replace the chart's values.yaml, merged in order;
			// a GitRepository's are paths from the repository's root
			// (source-controller: internal/helm/chart/builder_local.go).
			ch.Values = map[string]any{}
			for _, f := range strs(cs["valuesFiles"]) {
				if err = mergeValuesFile(b, ch, strings.TrimPrefix(path.Clean("/"+f), "/"), f); err != nil {
					break
				}
			}
		}
		return ch, dir, "chart " + dir, err
	}
	return nil, "", "", fmt.Errorf("chart source kind %s is not rendered", kind)
}

// mergeValuesFile makes a chart's valuesFiles its defaults, in order.
func mergeValuesFile(b *render.Build, ch *chart.Chart, p, name string) error {
	c, err := b.Read(p)
	if err != nil {
		return fmt.Errorf("valuesFiles %s: %w", name, err)
	}
	v := map[string]any{}
	if err := sigsyaml.Unmarshal(c, &v); err != nil {
		return fmt.Errorf("valuesFiles %s: %w", name, err)
	}
	ch.Values = render.MergeValues(ch.Values, v)
	return nil
}

// ReleaseValues merges a HelmRelease's values as helm-controller does
// (the chart's defaults come under them at render): valuesFrom in order,
// each whole document merged or one value set at targetPath, then
// spec.values over all. The rule follows fluxcd/pkg/chartutil's
// values.go (ChartValuesFromReferences) and helm-controller's
// internal/reconcile/helmchart_template.go.
func ReleaseValues(b *render.Build, o render.Object, _ *chart.Chart) (map[string]any, error) {
	spec := obj(o.Obj, "spec")
	out := map[string]any{}
	refs, _ := spec["valuesFrom"].([]any)
	for _, r := range refs {
		ref, _ := r.(map[string]any)
		kind, name := str(ref, "kind"), str(ref, "name")
		key := str(ref, "valuesKey")
		if key == "" {
			key = "values.yaml"
		}
		optional, _ := ref["optional"].(bool)
		src := b.Find(kind, o.Namespace(), name)
		if src == nil {
			if !b.Final {
				return nil, render.ErrWait
			}
			if optional {
				continue
			}
			return nil, fmt.Errorf("valuesFrom %s/%s: not in the environment", kind, name)
		}
		data, ok := Data(src.Obj)[key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf("valuesFrom %s/%s: no key %s", kind, name, key)
		}
		if tp := str(ref, "targetPath"); tp != "" {
			if err := strvals.ParseIntoString(tp+"="+data, out); err != nil {
				return nil, fmt.Errorf("valuesFrom %s/%s targetPath %s: %w", kind, name, tp, err)
			}
			continue
		}
		v, err := valuesOf(data)
		if err != nil {
			return nil, fmt.Errorf("valuesFrom %s/%s key %s: %w", kind, name, key, err)
		}
		out = render.MergeValues(out, v)
	}
	if v := obj(spec, "values"); v != nil {
		out = render.MergeValues(out, v)
	}
	return out, nil
}

// postRender applies a HelmRelease's kustomize post-renderers (patches,
// images) to the chart's objects; other post-renderers are not run.
func postRender(prs []any, objs []render.Object) ([]render.Object, error) {
	for _, p := range prs {
		k := obj(p.(map[string]any), "kustomize")
		if k == nil {
			return nil, fmt.Errorf("only kustomize post-renderers are rendered")
		}
		var err error
		if objs, err = render.KustomizeObjects(objs, k); err != nil {
			return nil, err
		}
	}
	return objs, nil
}
