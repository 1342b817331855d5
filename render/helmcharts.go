package render

import (
	"context"
	"fmt"
	"path"
	"strings"
	gosync "sync"

	"helm.sh/helm/v3/pkg/chart"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"
)

// Inflated says which helmCharts entry of a kustomization made an object.
type Inflated struct {
	Kustomization string // the kustomization file
	Index         int    // the entry, from 0
	// Layers are the values the chart renders with (its defaults under
	// the entry's valuesFile, valuesInline and additionalValuesFiles);
	// Files are the entry's values files of the repository.
	Layers *HelmLayers
}

// MergeValues merges b over a, maps merged key by key (helm's
// pkg/chartutil.MergeMaps, as fluxcd/pkg/chartutil uses it).
func MergeValues(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if vm, ok := v.(map[string]any); ok {
			if bv, ok := out[k].(map[string]any); ok {
				out[k] = MergeValues(bv, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// inflater is the repository as kustomize reads it with Argo CD's
// --enable-helm: a kustomization's helmCharts are rendered here, in
// process, and the kustomization read without them and with the rendered
// chart as one more resource. It follows kustomize's
// HelmChartInflationGenerator (api/internal/builtins) and
// HelmChart.AsHelmArgs (api/types/helmchartargs.go), with the Helm SDK in
// place of the helm binary kustomize runs: no binary, no plugin, no
// post-renderer. A chart's kubeVersion and apiVersions are not passed.
type inflater struct {
	filesys.FileSystem
	b   *Build
	ctx context.Context

	mu        gosync.Mutex
	generated map[string][]byte    // rendered chart files, by repository path
	made      map[string]*Inflated // and what made them
}

func newInflater(ctx context.Context, b *Build, under filesys.FileSystem) *inflater {
	return &inflater{FileSystem: under, b: b, ctx: ctx, generated: map[string][]byte{}, made: map[string]*Inflated{}}
}

func (f *inflater) file(p string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.generated[clean(p)]
	return c, ok
}

func (f *inflater) Exists(p string) bool {
	if _, ok := f.file(p); ok {
		return true
	}
	return f.FileSystem.Exists(p)
}

func (f *inflater) IsDir(p string) bool {
	if _, ok := f.file(p); ok {
		return false
	}
	return f.FileSystem.IsDir(p)
}

func (f *inflater) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	if _, ok := f.file(p); ok {
		c := clean(p)
		return filesys.ConfirmedDir("/" + path.Dir(c)), path.Base(c), nil
	}
	return f.FileSystem.CleanedAbs(p)
}

func (f *inflater) Open(p string) (filesys.File, error) {
	if _, ok := f.file(p); ok {
		return nil, fmt.Errorf("%s: a rendered chart is read whole", p)
	}
	return f.FileSystem.Open(p)
}

func (f *inflater) ReadFile(p string) ([]byte, error) {
	if c, ok := f.file(p); ok {
		return c, nil
	}
	c, err := f.FileSystem.ReadFile(p)
	if err != nil || !konfigName(p) {
		return c, err
	}
	return f.rewrite(clean(p), c)
}

// rewrite renders kustomization kfile's helmCharts and returns it without
// them, the rendered charts listed as resources.
func (f *inflater) rewrite(kfile string, content []byte) ([]byte, error) {
	if !strings.Contains(string(content), "helmCharts") {
		return content, nil
	}
	k := map[string]any{}
	if err := sigsyaml.Unmarshal(content, &k); err != nil || k["helmCharts"] == nil {
		return content, nil // kustomize says what is wrong with it
	}
	var spec struct {
		HelmGlobals *kustypes.HelmGlobals `json:"helmGlobals,omitempty"`
		HelmCharts  []kustypes.HelmChart  `json:"helmCharts,omitempty"`
	}
	if err := sigsyaml.Unmarshal(content, &spec); err != nil {
		return nil, fmt.Errorf("%s: helmCharts: %w", kfile, err)
	}
	dir := path.Dir(kfile)
	home := "charts" // kustypes.HelmDefaultHome
	if spec.HelmGlobals != nil && spec.HelmGlobals.ChartHome != "" {
		home = spec.HelmGlobals.ChartHome
	}
	resources, _ := k["resources"].([]any)
	for i, hc := range spec.HelmCharts {
		objs, made, err := f.inflate(dir, home, hc)
		if err != nil {
			return nil, fmt.Errorf("%s: helmCharts %s: %w", kfile, hc.Name, err)
		}
		name := fmt.Sprintf(".helmcharts-%d-%s.yaml", i, path.Base(hc.Name))
		made.Kustomization, made.Index = kfile, i
		f.mu.Lock()
		f.generated[path.Join(dir, name)] = objs
		f.made[path.Join(dir, name)] = made
		f.mu.Unlock()
		resources = append(resources, name)
	}
	delete(k, "helmCharts")
	delete(k, "helmGlobals")
	k["resources"] = resources
	return sigsyaml.Marshal(k)
}

// inflate renders one helmCharts entry as a YAML stream.
func (f *inflater) inflate(dir, home string, hc kustypes.HelmChart) ([]byte, *Inflated, error) {
	if hc.Name == "" {
		return nil, nil, fmt.Errorf("an entry has no name")
	}
	root := path.Join(dir, home)
	if hc.Version != "" && hc.Repo != "" {
		root = path.Join(root, hc.Name+"-"+hc.Version) // where kustomize pulls it to
	}
	local := path.Join(root, hc.Name)
	var ch *chart.Chart
	var err error
	switch {
	case f.b.Tree.Exists(path.Join(local, "Chart.yaml")):
		ch, err = f.b.LocalChart(f.ctx, local)
	case hc.Repo == "":
		return nil, nil, fmt.Errorf("no repo specified for pull, no chart found at '%s'", local)
	default:
		local = ""
		ch, err = f.b.RemoteChart(f.ctx, strings.TrimSuffix(hc.Repo, "/"), hc.Name, hc.Version)
	}
	if err != nil {
		return nil, nil, err
	}
	values, files, err := f.values(dir, hc)
	if err != nil {
		return nil, nil, err
	}
	rel := Release{Name: hc.ReleaseName, Namespace: hc.Namespace, Values: values, Dir: local,
		Template: true, IncludeCRDs: hc.IncludeCRDs, SkipTests: hc.SkipTests}
	if rel.Name == "" {
		rel.Name = "release-name" // helm template's name when none is given
	}
	objs, err := RenderChart(ch, rel)
	if err != nil {
		return nil, nil, err
	}
	var out []byte
	for _, o := range objs {
		if hc.SkipHooks && isHook(o.Obj) {
			continue
		}
		b, err := sigsyaml.Marshal(o.Obj)
		if err != nil {
			return nil, nil, err
		}
		out = append(append(out, "---\n"...), b...)
	}
	return out, &Inflated{Layers: Layers(ch, values, files)}, nil
}

// values are an entry's values: valuesInline and valuesFile merged as its
// valuesMerge says (override: inline over the file; merge: the file over
// inline; replace: inline alone), then additionalValuesFiles in order.
func (f *inflater) values(dir string, hc kustypes.HelmChart) (map[string]any, []string, error) {
	var files []string
	read := func(p string) (map[string]any, error) {
		p = clean(path.Join(dir, p))
		c, err := f.b.Read(p)
		if err != nil {
			return nil, err
		}
		files = append(files, p)
		v := map[string]any{}
		if err := sigsyaml.Unmarshal(c, &v); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		return v, nil
	}
	file := map[string]any{}
	if hc.ValuesFile != "" {
		v, err := read(hc.ValuesFile)
		if err != nil {
			return nil, nil, err
		}
		file = v
	}
	var out map[string]any
	switch hc.ValuesMerge {
	case "", "override":
		out = MergeValues(file, hc.ValuesInline)
	case "merge":
		out = MergeValues(hc.ValuesInline, file)
	case "replace":
		out = hc.ValuesInline
		if len(out) == 0 {
			out = file
		}
	default:
		return nil, nil, fmt.Errorf("valuesMerge %q: want override, merge or replace", hc.ValuesMerge)
	}
	for _, p := range hc.AdditionalValuesFiles {
		v, err := read(p)
		if err != nil {
			return nil, nil, err
		}
		out = MergeValues(out, v)
	}
	return out, files, nil
}

func isHook(o map[string]any) bool {
	meta, _ := o["metadata"].(map[string]any)
	ann, _ := meta["annotations"].(map[string]any)
	_, ok := ann["helm.sh/hook"]
	return ok
}
