package argocd

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/strvals"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/providers/chartrender"
	"github.com/gitops-bot/gitops-bot/render"
)

// Field readers, render's (shorter names for the many reads below).
var (
	str  = render.Str
	obj  = render.Map
	list = render.Maps
	strs = render.Strings
)

// Renderer is Argo CD as the render model knows it: Applications rendered
// as the repo-server renders their sources, ApplicationSets expanded as
// the ApplicationSet controller expands them.
type Renderer struct{}

func (Renderer) Name() string { return "argocd" }

// Root renders an environment's directory as an Application of it would:
// a kustomization, a chart (or the templates directory of one: the app of
// apps chart), else every manifest under it.
func (Renderer) Root(ctx context.Context, b *render.Build, dir string) ([]render.Object, error) {
	// Whoever applied the directory gave no destination: objects keep the
	// namespace they name.
	app := map[string]any{"metadata": map[string]any{"name": path.Base(dir), "namespace": "argocd"},
		"spec": map[string]any{"destination": map[string]any{}}}
	if path.Base(dir) == "templates" && b.Tree.Exists(path.Join(path.Dir(dir), "Chart.yaml")) && !b.Tree.Exists(path.Join(dir, "Chart.yaml")) {
		dir = path.Dir(dir)
	}
	objs, _, err := renderPath(ctx, b, app, map[string]any{"path": dir}, nil, &render.Expansion{})
	// An app of apps here that applies this directory itself applies its
	// objects: those that name no namespace get its destination's.
	for _, o := range objs {
		if o.Kind() != "Application" || o.Group() != "argoproj.io" {
			continue
		}
		srcs := Sources(o.Obj)
		if len(srcs) != 1 || strings.Trim(path.Clean("/"+str(srcs[0], "path")), "/") != b.Env.Dir || !b.ThisRepo(str(srcs[0], "repoURL")) {
			continue
		}
		inNamespace(objs, str(o.Obj, "spec", "destination", "namespace"))
	}
	return objs, err
}

// Expand renders an Application or expands an ApplicationSet.
func (Renderer) Expand(ctx context.Context, b *render.Build, o render.Object) (render.Expansion, bool) {
	if o.Group() != "argoproj.io" {
		return render.Expansion{}, false
	}
	switch o.Kind() {
	case "Application":
		return application(ctx, b, o), true
	case "ApplicationSet":
		return applicationSet(ctx, b, o), true
	}
	return render.Expansion{}, false
}

// Sources are an Application's sources: spec.sources, or spec.source.
func Sources(app map[string]any) []map[string]any {
	if s := list(obj(app, "spec")["sources"]); len(s) > 0 {
		return s
	}
	if s := obj(app, "spec", "source"); s != nil {
		return []map[string]any{s}
	}
	return nil
}

// application renders every source of an Application; sources with only
// a ref lend their files to the others' valueFiles.
func application(ctx context.Context, b *render.Build, o render.Object) render.Expansion {
	var x render.Expansion
	srcs := Sources(o.Obj)
	refs := map[string]map[string]any{}
	for _, s := range srcs {
		if r := str(s, "ref"); r != "" {
			refs[r] = s
		}
	}
	if self := selfApplied(b, o, srcs); self {
		x.Source = b.Env.Dir + " (the environment's own directory)"
		return x
	}
	var descs []string
	for _, s := range srcs {
		if str(s, "ref") != "" && str(s, "path") == "" && str(s, "chart") == "" {
			continue
		}
		objs, desc, err := renderSource(ctx, b, o.Obj, s, refs, &x)
		if desc != "" {
			descs = append(descs, desc)
		}
		if err != nil {
			x.Err = err
			break
		}
		x.Objects = append(x.Objects, objs...)
	}
	x.Source = strings.Join(descs, ", ")
	return x
}

// selfApplied: an app of apps in the environment's directory that applies
// that directory itself; what it applies is the root's render (Root gives
// those objects its destination's namespace).
func selfApplied(b *render.Build, o render.Object, srcs []map[string]any) bool {
	if o.Applier != 0 || len(srcs) != 1 || str(srcs[0], "chart") != "" || !b.ThisRepo(str(srcs[0], "repoURL")) {
		return false
	}
	return strings.Trim(path.Clean("/"+str(srcs[0], "path")), "/") == b.Env.Dir
}

func renderSource(ctx context.Context, b *render.Build, app, src map[string]any, refs map[string]map[string]any, x *render.Expansion) ([]render.Object, string, error) {
	repo := str(src, "repoURL")
	if c := str(src, "chart"); c != "" {
		u := repo
		if !strings.Contains(u, "://") {
			u = "oci://" + u // a repository without a scheme is an OCI registry
		}
		desc := fmt.Sprintf("chart %s %s of %s", c, str(src, "targetRevision"), repo)
		ch, err := b.RemoteChart(ctx, u, c, str(src, "targetRevision"))
		if err != nil {
			return nil, desc, err
		}
		objs, err := renderHelm(b, app, src, ch, "", refs, x)
		return objs, desc, err
	}
	if !b.ThisRepo(repo) {
		return nil, repo, fmt.Errorf("the source %s is another repository", repo)
	}
	p := strings.Trim(path.Clean("/"+str(src, "path")), "/")
	objs, desc, err := renderPath(ctx, b, app, src, refs, x)
	if desc == "" {
		desc = p
	}
	return objs, desc, err
}

// renderPath renders a directory of this repository by what it holds, as
// the repo-server detects it (reposerver/repository: GetAppSourceType):
// a kustomization, a chart, else plain manifests. Config management
// plugins are never run.
func renderPath(ctx context.Context, b *render.Build, app, src map[string]any, refs map[string]map[string]any, x *render.Expansion) ([]render.Object, string, error) {
	dir := strings.Trim(path.Clean("/"+str(src, "path")), "/")
	if src["plugin"] != nil {
		return nil, dir, fmt.Errorf("the source %s uses a config management plugin, which is not run", orDot(dir))
	}
	if !b.Tree.IsDir(dir) {
		return nil, dir, fmt.Errorf("path %s: no such directory in the repository", orDot(dir))
	}
	src, err := withOverrides(b, app, src, dir)
	if err != nil {
		return nil, dir, err
	}
	var objs []render.Object
	switch {
	case b.KustomizationFile(dir) != "" && src["directory"] == nil && src["helm"] == nil:
		objs, err = renderKustomize(b, dir, obj(src, "kustomize"))
	case b.Tree.Exists(path.Join(dir, "Chart.yaml")) && src["directory"] == nil:
		var ch *chart.Chart
		if ch, err = b.LocalChart(ctx, dir); err == nil {
			objs, err = renderHelm(b, app, src, ch, dir, refs, x)
		}
	default:
		objs, err = renderDirectory(b, dir, obj(src, "directory"))
	}
	if err != nil {
		return nil, dir, err
	}
	inNamespace(objs, str(app, "spec", "destination", "namespace"))
	return objs, dir, nil
}

func orDot(dir string) string {
	if dir == "" {
		return "."
	}
	return dir
}

// inNamespace gives namespaced objects without a namespace the
// destination's, where Argo CD applies them.
func inNamespace(objs []render.Object, ns string) {
	if ns == "" {
		return
	}
	for _, o := range objs {
		meta := obj(o.Obj, "metadata")
		if _, set := meta["namespace"]; !set && meta != nil && !clusterScoped[o.Kind()] {
			meta["namespace"] = ns
		}
	}
}

var clusterScoped = map[string]bool{
	"Namespace": true, "ClusterRole": true, "ClusterRoleBinding": true, "CustomResourceDefinition": true,
	"PersistentVolume": true, "StorageClass": true, "PriorityClass": true, "IngressClass": true,
	"ValidatingWebhookConfiguration": true, "MutatingWebhookConfiguration": true, "APIService": true,
	"RuntimeClass": true, "CSIDriver": true, "ClusterIssuer": true, "GatewayClass": true,
	"ClusterSecretStore": true,
}

// withOverrides merges the source's parameter override files,
// .argocd-source.yaml then .argocd-source-APP.yaml, over the source, as
// the repo-server does (reposerver/repository: mergeSourceParameters).
func withOverrides(b *render.Build, app, src map[string]any, dir string) (map[string]any, error) {
	out := src
	for _, name := range []string{".argocd-source.yaml", ".argocd-source-" + str(app, "metadata", "name") + ".yaml"} {
		p := path.Join(dir, name)
		if !b.Tree.Exists(p) {
			continue
		}
		c, err := b.Read(p)
		if err != nil {
			return nil, err
		}
		over := map[string]any{}
		if err := sigsyaml.Unmarshal(c, &over); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = render.MergeValues(out, over)
	}
	return out, nil
}

// renderKustomize builds a kustomization with the Application's kustomize
// options written into it, as the repo-server's `kustomize edit` calls do
// (util/kustomize/kustomize.go: Build).
func renderKustomize(b *render.Build, dir string, opts map[string]any) ([]render.Object, error) {
	var content []byte
	if len(opts) > 0 {
		kf := b.KustomizationFile(dir)
		c, err := b.Read(kf)
		if err != nil {
			return nil, err
		}
		k := map[string]any{}
		if err := sigsyaml.Unmarshal(c, &k); err != nil {
			return nil, fmt.Errorf("%s: %w", kf, err)
		}
		KustomizeOptions(k, opts)
		if content, err = sigsyaml.Marshal(k); err != nil {
			return nil, err
		}
	}
	// helmCharts are inflated: a repository that lists them runs Argo CD
	// with kustomize.buildOptions --enable-helm, or they would not work.
	return b.Kustomize(dir, render.KustomizeOptions{Kustomization: content, RootOnly: true, Helm: true})
}

// KustomizeOptions writes an Application's spec.source.kustomize into a
// kustomization, field by field as `kustomize edit` would.
func KustomizeOptions(k, opts map[string]any) {
	for _, f := range []string{"namePrefix", "nameSuffix", "namespace"} {
		if s := str(opts, f); s != "" {
			k[f] = s
		}
	}
	for _, img := range strs(opts["images"]) {
		setImage(k, ParseImage(img))
	}
	for _, r := range list(opts["replicas"]) {
		reps, _ := k["replicas"].([]any)
		entry := map[string]any{"name": str(r, "name"), "count": r["count"]}
		replaced := false
		for i, e := range reps {
			if m, ok := e.(map[string]any); ok && m["name"] == entry["name"] {
				reps[i], replaced = entry, true
			}
		}
		if !replaced {
			reps = append(reps, entry)
		}
		k["replicas"] = reps
	}
	for _, f := range []string{"commonLabels", "commonAnnotations"} {
		if add := obj(opts, f); len(add) > 0 {
			m := obj(k, f)
			if m == nil {
				m = map[string]any{}
			}
			for kk, v := range add {
				m[kk] = v
			}
			k[f] = m
		}
	}
	if ps, _ := opts["patches"].([]any); len(ps) > 0 {
		cur, _ := k["patches"].([]any)
		k["patches"] = append(cur, ps...)
	}
	if cs := strs(opts["components"]); len(cs) > 0 {
		cur, _ := k["components"].([]any)
		for _, c := range cs {
			cur = append(cur, c)
		}
		k["components"] = cur
	}
}

// KustomizeImage is one of an Application's kustomize images:
// "[OLD=]NAME[:TAG][@DIGEST]".
type KustomizeImage struct{ Name, NewName, NewTag, Digest string }

// ParseImage reads an Application's kustomize image override.
func ParseImage(s string) KustomizeImage {
	var im KustomizeImage
	old, rest, hasOld := strings.Cut(s, "=")
	if !hasOld {
		rest = s
	}
	if i := strings.Index(rest, "@"); i >= 0 {
		im.Digest = rest[i+1:]
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		im.NewTag = rest[i+1:]
		rest = rest[:i]
	}
	if hasOld {
		im.Name, im.NewName = old, rest
	} else {
		im.Name = rest
	}
	return im
}

func setImage(k map[string]any, im KustomizeImage) {
	entry := map[string]any{"name": im.Name}
	if im.NewName != "" {
		entry["newName"] = im.NewName
	}
	if im.NewTag != "" {
		entry["newTag"] = im.NewTag
	}
	if im.Digest != "" {
		entry["digest"] = im.Digest
	}
	imgs, _ := k["images"].([]any)
	for i, e := range imgs {
		if m, ok := e.(map[string]any); ok && m["name"] == im.Name {
			imgs[i] = entry
			k["images"] = imgs
			return
		}
	}
	k["images"] = append(imgs, entry)
}

// renderHelm renders a chart as the repo-server's `helm template` does:
// valueFiles in order, then values (valuesObject over it), then
// parameters, over the chart's defaults (Argo CD's documented precedence;
// util/helm/cmd.go: template).
func renderHelm(b *render.Build, app, src map[string]any, ch *chart.Chart, dir string, refs map[string]map[string]any, x *render.Expansion) ([]render.Object, error) {
	h := obj(src, "helm")
	values := map[string]any{}
	var files []string
	if dir != "" {
		files = append(files, path.Join(dir, "values.yaml"))
	}
	ignoreMissing, _ := h["ignoreMissingValueFiles"].(bool)
	for _, f := range strs(h["valueFiles"]) {
		p, err := valueFile(b, dir, f, refs)
		if err != nil {
			return nil, err
		}
		if p == "" || !b.Tree.Exists(p) {
			if ignoreMissing || p == "" {
				continue
			}
			return nil, fmt.Errorf("valueFiles %s: no such file in the repository", f)
		}
		c, err := b.Read(p)
		if err != nil {
			return nil, err
		}
		v := map[string]any{}
		if err := sigsyaml.Unmarshal(c, &v); err != nil {
			return nil, fmt.Errorf("valueFiles %s: %w", p, err)
		}
		values = render.MergeValues(values, v)
		files = append(files, p)
	}
	if s := str(h, "values"); s != "" && obj(h, "valuesObject") == nil {
		v := map[string]any{}
		if err := sigsyaml.Unmarshal([]byte(s), &v); err != nil {
			return nil, fmt.Errorf("helm.values: %w", err)
		}
		values = render.MergeValues(values, v)
	}
	if v := obj(h, "valuesObject"); v != nil {
		values = render.MergeValues(values, v)
	}
	for _, p := range list(h["parameters"]) {
		set := strvals.ParseInto
		if f, _ := p["forceString"].(bool); f {
			set = strvals.ParseIntoString
		}
		if err := set(str(p, "name")+"="+str(p, "value"), values); err != nil {
			return nil, fmt.Errorf("helm parameter %s: %w", str(p, "name"), err)
		}
	}
	rel := str(h, "releaseName")
	if rel == "" {
		rel = str(app, "metadata", "name")
	}
	ns := str(h, "namespace")
	if ns == "" {
		ns = str(app, "spec", "destination", "namespace")
	}
	x.Helm = render.Layers(ch, values, files)
	return render.RenderChart(ch, render.Release{Name: rel, Namespace: ns, Values: values, Dir: dir})
}

// valueFile is the repository path of a valueFiles entry: relative to the
// chart, or "$ref/path" in the source named ref ("" for a URL or another
// repository's file).
func valueFile(b *render.Build, dir, f string, refs map[string]map[string]any) (string, error) {
	if strings.HasPrefix(f, "$") {
		name, rest, _ := strings.Cut(strings.TrimPrefix(f, "$"), "/")
		src, ok := refs[name]
		if !ok {
			return "", fmt.Errorf("valueFiles %s: no source has ref %s", f, name)
		}
		if !b.ThisRepo(str(src, "repoURL")) {
			return "", fmt.Errorf("valueFiles %s: the source %s is another repository", f, str(src, "repoURL"))
		}
		return strings.Trim(path.Clean("/"+rest), "/"), nil
	}
	if strings.Contains(f, "://") {
		return "", fmt.Errorf("valueFiles %s: values from a URL are not fetched", f)
	}
	return strings.Trim(path.Clean("/"+path.Join(dir, f)), "/"), nil
}

// renderDirectory reads the manifests of a plain directory, as the
// repo-server does (reposerver/repository: findManifests): YAML and JSON
// files, recursively when recurse is set, include and exclude globs
// matched against the path under the directory.
func renderDirectory(b *render.Build, dir string, opts map[string]any) ([]render.Object, error) {
	recurse, _ := opts["recurse"].(bool)
	include, exclude := str(opts, "include"), str(opts, "exclude")
	var out []render.Object
	var jsonnet []string
	files := b.Under(dir)
	sort.Strings(files)
	for _, f := range files {
		rel := strings.TrimPrefix(f, dir+"/")
		if dir == "" {
			rel = f
		}
		if !recurse && strings.Contains(rel, "/") {
			continue
		}
		if include != "" && !globMatch(include, rel) || exclude != "" && globMatch(exclude, rel) {
			continue
		}
		switch path.Ext(f) {
		case ".jsonnet", ".libsonnet":
			jsonnet = append(jsonnet, f)
			continue
		case ".yaml", ".yml", ".json":
		default:
			continue
		}
		c, err := b.Read(f)
		if err != nil {
			return nil, err
		}
		docs, err := chartrender.Decode(string(c))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, d := range docs {
			if d["apiVersion"] == nil || d["kind"] == nil {
				continue // not a Kubernetes object (a values file, a config)
			}
			out = append(out, render.Object{Obj: d, File: f})
		}
	}
	if len(jsonnet) > 0 {
		return out, fmt.Errorf("jsonnet (%s) is not rendered", jsonnet[0])
	}
	return out, nil
}

// globMatch matches Argo CD's include/exclude: a glob or "{a,b}" of them.
func globMatch(pattern, name string) bool {
	pats := []string{pattern}
	if strings.HasPrefix(pattern, "{") && strings.HasSuffix(pattern, "}") {
		pats = strings.Split(strings.Trim(pattern, "{}"), ",")
	}
	for _, p := range pats {
		if ok, _ := path.Match(strings.TrimSpace(p), name); ok {
			return true
		}
		if ok, _ := path.Match(strings.TrimSpace(p), path.Base(name)); ok {
			return true
		}
	}
	return false
}
