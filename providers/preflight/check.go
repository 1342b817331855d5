package preflight

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"sigs.k8s.io/kustomize/api/krusty"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/chartrender"
	"github.com/gitops-bot/gitops-bot/providers/schema"
)

// Chart is a chart to lint and render with some values files.
type Chart struct {
	Dir         string   // repository path
	ValuesFiles []string // repository paths, merged in order after values.yaml
	Release     string
	Namespace   string
}

// Request says what to check.
type Request struct {
	Kustomizations []string // directories to build
	Charts         []Chart
	Manifests      []providers.Manifest // generated objects to validate as they are
}

// Problem is one failure, with where it is.
type Problem struct {
	File   string // the kustomization, chart or file
	Object string // Kind/name, when one object is at fault
	Err    string
}

// Error lists every problem found.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(p.File)
		if p.Object != "" {
			b.WriteString(" (" + p.Object + ")")
		}
		b.WriteString(": " + p.Err)
	}
	return b.String()
}

// Check runs every check and returns an *Error listing all problems, or nil.
func Check(ctx context.Context, t *Tree, req Request) error {
	var probs []Problem
	for _, m := range req.Manifests {
		for _, o := range m.Objects {
			probs = append(probs, validate(ctx, m.Path, o)...)
		}
	}
	kust := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	for _, dir := range req.Kustomizations {
		res, err := kust.Run(t.FS(), "/"+dir)
		if err != nil {
			probs = append(probs, Problem{File: path.Join(dir, "kustomization.yaml"), Err: "kustomize build failed: " + strings.ReplaceAll(err.Error(), "/"+dir, dir)})
			continue
		}
		for _, r := range res.Resources() {
			m, err := r.Map()
			if err != nil {
				probs = append(probs, Problem{File: dir, Object: r.GetKind() + "/" + r.GetName(), Err: err.Error()})
				continue
			}
			probs = append(probs, validate(ctx, dir, m)...)
		}
	}
	for _, c := range req.Charts {
		probs = append(probs, checkChart(ctx, t, c)...)
	}
	if err := t.Err(); err != nil {
		return fmt.Errorf("reading the repository: %w", err)
	}
	if len(probs) == 0 {
		return nil
	}
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].File < probs[j].File })
	return &Error{Problems: probs}
}

func validate(ctx context.Context, file string, obj map[string]any) []Problem {
	known, err := schema.ValidateAny(ctx, obj)
	if !known || err == nil {
		return nil
	}
	ref := providers.Object(obj).Ref()
	return []Problem{{File: file, Object: ref.Kind + "/" + ref.Name, Err: err.Error()}}
}

func checkChart(ctx context.Context, t *Tree, c Chart) []Problem {
	chartFile := path.Join(c.Dir, "Chart.yaml")
	var files []*loader.BufferedFile
	for _, f := range t.Under(c.Dir) {
		b, err := t.ReadFile(f)
		if err != nil {
			return []Problem{{File: f, Err: err.Error()}}
		}
		files = append(files, &loader.BufferedFile{Name: strings.TrimPrefix(f, c.Dir+"/"), Data: b})
	}
	ch, err := loader.LoadFiles(files)
	if err != nil {
		return []Problem{{File: chartFile, Err: "loading the chart: " + err.Error()}}
	}
	values := map[string]any{}
	for _, vf := range c.ValuesFiles {
		b, err := t.ReadFile(vf)
		if err != nil {
			return []Problem{{File: vf, Err: err.Error()}}
		}
		m := map[string]any{}
		if err := sigsyaml.Unmarshal(b, &m); err != nil {
			return []Problem{{File: vf, Err: "not a YAML map: " + err.Error()}}
		}
		values = chartutil.CoalesceTables(m, values)
	}
	var probs []Problem
	probs = append(probs, lintChart(files, c, values)...)
	vals, err := chartutil.ToRenderValues(ch, values, chartutil.ReleaseOptions{Name: c.Release, Namespace: c.Namespace, IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		return append(probs, Problem{File: chartFile, Err: err.Error()})
	}
	rendered, err := engine.Render(ch, vals)
	if err != nil {
		return append(probs, Problem{File: chartFile, Err: "rendering: " + err.Error()})
	}
	for _, n := range chartrender.ManifestNames(rendered) {
		file := path.Join(path.Dir(c.Dir), n)
		objs, err := chartrender.Decode(rendered[n])
		for _, obj := range objs {
			probs = append(probs, validate(ctx, file, obj)...)
		}
		if err != nil {
			probs = append(probs, Problem{File: file, Err: "rendered YAML does not parse: " + err.Error()})
		}
	}
	return probs
}

// lintChart runs helm lint, which reads a directory: the chart is written
// to a temporary one for it.
func lintChart(files []*loader.BufferedFile, c Chart, values map[string]any) []Problem {
	dir, err := os.MkdirTemp("", "gitops-bot-lint-")
	if err != nil {
		return []Problem{{File: c.Dir, Err: err.Error()}}
	}
	defer os.RemoveAll(dir)
	root := filepath.Join(dir, path.Base(c.Dir))
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return []Problem{{File: c.Dir, Err: err.Error()}}
		}
		if err := os.WriteFile(p, f.Data, 0o600); err != nil {
			return []Problem{{File: c.Dir, Err: err.Error()}}
		}
	}
	var probs []Problem
	for _, m := range lint.All(root, values, c.Namespace, false).Messages {
		if m.Severity >= support.ErrorSev {
			probs = append(probs, Problem{File: path.Join(path.Dir(c.Dir), strings.TrimPrefix(m.Path, dir+"/")), Err: "helm lint: " + m.Err.Error()})
		}
	}
	return probs
}

// Build builds the kustomization in dir and returns its objects.
func Build(t *Tree, dir string) ([]map[string]any, error) {
	kust := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := kust.Run(t.FS(), "/"+dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build of %s failed: %s", dir, strings.ReplaceAll(err.Error(), "/"+dir, dir))
	}
	var out []map[string]any
	for _, r := range res.Resources() {
		m, err := r.Map()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := t.Err(); err != nil {
		return nil, fmt.Errorf("reading the repository: %w", err)
	}
	return out, nil
}
