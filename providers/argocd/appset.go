package argocd

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"github.com/valyala/fasttemplate"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/render"
)

// maxGenerated bounds what one ApplicationSet makes.
const maxGenerated = 2000

// applicationSet expands an ApplicationSet into its Applications, as the
// ApplicationSet controller does (applicationset/generators,
// applicationset/utils/utils.go). Generators that read outside the
// repository (SCM providers, pull requests, plugins, cluster decisions)
// are not expanded: the applier says so.
func applicationSet(ctx context.Context, b *render.Build, o render.Object) render.Expansion {
	spec := obj(o.Obj, "spec")
	gt := goTemplate{on: spec["goTemplate"] == true, options: strs(spec["goTemplateOptions"])}
	x := render.Expansion{Source: "generators"}
	for _, g := range list(spec["generators"]) {
		sets, err := generate(b, gt, g, nil)
		if err != nil {
			x.Err = err
			return x
		}
		tmpl := obj(spec, "template")
		if t := obj(g, firstKey(g), "template"); t != nil {
			tmpl = render.MergeValues(tmpl, t) // a generator's own template wins field by field
		}
		for _, p := range sets {
			app, err := gt.apply(tmpl, p)
			if err != nil {
				x.Err = fmt.Errorf("ApplicationSet %s: %w", o.Name(), err)
				return x
			}
			m, _ := app.(map[string]any)
			meta := obj(m, "metadata")
			if meta == nil {
				meta = map[string]any{}
				m["metadata"] = meta
			}
			meta["namespace"] = o.Namespace()
			gen := map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": meta, "spec": m["spec"]}
			x.Objects = append(x.Objects, render.Object{Obj: gen, File: o.File})
			if len(x.Objects) > maxGenerated {
				x.Err = fmt.Errorf("ApplicationSet %s makes more than %d Applications", o.Name(), maxGenerated)
				return x
			}
		}
	}
	return x
}

func firstKey(m map[string]any) string {
	for k := range m {
		if k != "selector" {
			return k
		}
	}
	return ""
}

// generate returns the parameter sets of one generator; outer are the
// parameters of an enclosing matrix's earlier generator, templated into
// this one first.
func generate(b *render.Build, gt goTemplate, g map[string]any, outer map[string]any) ([]map[string]any, error) {
	if outer != nil {
		t, err := gt.apply(g, outer)
		if err != nil {
			return nil, err
		}
		g, _ = t.(map[string]any)
	}
	var sets []map[string]any
	var err error
	switch {
	case g["list"] != nil:
		sets, err = listParams(gt, obj(g, "list"))
	case g["clusters"] != nil:
		sets, err = clusterParams(b, gt, obj(g, "clusters"))
	case g["git"] != nil:
		sets, err = gitParams(b, gt, obj(g, "git"))
	case g["matrix"] != nil:
		sets, err = matrixParams(b, gt, obj(g, "matrix"))
	case g["merge"] != nil:
		sets, err = mergeParams(b, gt, obj(g, "merge"))
	default:
		return nil, fmt.Errorf("the %s generator reads outside the repository and is not expanded", firstKey(g))
	}
	if err != nil {
		return nil, err
	}
	if sel := obj(g, "selector"); sel != nil {
		return selectParams(sel, sets)
	}
	return sets, nil
}

// listParams are a list generator's elements; with the default syntax
// each is flat strings, its values map as values.KEY
// (applicationset/generators/list.go).
func listParams(gt goTemplate, l map[string]any) ([]map[string]any, error) {
	elems := list(l["elements"])
	if s := str(l, "elementsYaml"); s != "" {
		var more []map[string]any
		if err := sigsyaml.Unmarshal([]byte(s), &more); err != nil {
			return nil, fmt.Errorf("list generator elementsYaml: %w", err)
		}
		elems = append(elems, more...)
	}
	if gt.on {
		return elems, nil
	}
	var out []map[string]any
	for _, e := range elems {
		p := map[string]any{}
		for k, v := range e {
			if vals, ok := v.(map[string]any); ok && k == "values" {
				for vk, vv := range vals {
					p["values."+vk] = fmt.Sprint(vv)
				}
				continue
			}
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("list generator element key %s: the default template syntax takes strings, not %T", k, v)
			}
			p[k] = s
		}
		out = append(out, p)
	}
	return out, nil
}

// clusterParams lists the clusters a clusters generator selects: the
// cluster Secrets the environment renders and the configured clusters,
// then the in-cluster one when no selector is set and no Secret names it
// (applicationset/generators/cluster.go).
func clusterParams(b *render.Build, gt goTemplate, c map[string]any) ([]map[string]any, error) {
	sel := obj(c, "selector")
	var clusters []render.Cluster
	for _, o := range b.Env.Objects {
		if o.Kind() != "Secret" || str(o.Obj, "metadata", "labels", "argocd.argoproj.io/secret-type") != "cluster" {
			continue
		}
		d := secretData(o.Obj)
		clusters = append(clusters, render.Cluster{Name: d["name"], Server: d["server"],
			Labels: stringMap(obj(o.Obj, "metadata", "labels")), Annotations: stringMap(obj(o.Obj, "metadata", "annotations"))})
	}
	clusters = append(clusters, b.Options().Clusters...)
	local := true
	for _, cl := range clusters {
		if cl.Server == "https://kubernetes.default.svc" {
			local = false
		}
	}
	if len(sel) > 0 {
		local = false
	}
	var selector labels.Selector
	if len(sel) > 0 {
		var ls metav1.LabelSelector
		if err := remarshal(sel, &ls); err != nil {
			return nil, fmt.Errorf("clusters selector: %w", err)
		}
		s, err := metav1.LabelSelectorAsSelector(&ls)
		if err != nil {
			return nil, fmt.Errorf("clusters selector: %w", err)
		}
		selector = s
	}
	var out []map[string]any
	for _, cl := range clusters {
		// Every cluster is a Secret of this type; selectors may name it.
		set := labels.Set{"argocd.argoproj.io/secret-type": "cluster"}
		for k, v := range cl.Labels {
			set[k] = v
		}
		if selector != nil && !selector.Matches(set) {
			continue
		}
		p := map[string]any{"name": cl.Name, "nameNormalized": sanitize(cl.Name), "server": cl.Server, "project": ""}
		if gt.on {
			meta := map[string]any{}
			if len(cl.Labels) > 0 {
				meta["labels"] = anyMap(cl.Labels)
			}
			if len(cl.Annotations) > 0 {
				meta["annotations"] = anyMap(cl.Annotations)
			}
			p["metadata"] = meta
		} else {
			for k, v := range cl.Labels {
				p["metadata.labels."+k] = v
			}
			for k, v := range cl.Annotations {
				p["metadata.annotations."+k] = v
			}
		}
		out = append(out, p)
	}
	if local {
		out = append(out, map[string]any{"name": "in-cluster", "nameNormalized": "in-cluster", "server": "https://kubernetes.default.svc", "project": ""})
	}
	return withValues(gt, obj(c, "values"), out)
}

// withValues adds a generator's values, templated with each set's
// parameters, as values.KEY (appendTemplatedValues).
func withValues(gt goTemplate, values map[string]any, sets []map[string]any) ([]map[string]any, error) {
	if len(values) == 0 {
		return sets, nil
	}
	for _, p := range sets {
		vals := map[string]any{}
		keys := make([]string, 0, len(values))
		for k := range values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s, _ := values[k].(string)
			r, err := gt.replace(s, p)
			if err != nil {
				return nil, err
			}
			if gt.on {
				vals[k] = r
			} else {
				p["values."+k] = r
			}
		}
		if gt.on {
			p["values"] = vals
		}
	}
	return sets, nil
}

// gitParams lists a git generator's directories or files of this
// repository (applicationset/generators/repo_path_utils.go).
func gitParams(b *render.Build, gt goTemplate, g map[string]any) ([]map[string]any, error) {
	if !b.ThisRepo(str(g, "repoURL")) {
		return nil, fmt.Errorf("the git generator reads %s, another repository", str(g, "repoURL"))
	}
	prefix := str(g, "pathParamPrefix")
	all := b.Under("")
	var out []map[string]any
	if dirs := list(g["directories"]); len(dirs) > 0 {
		seen := map[string]bool{}
		var paths []string
		for _, f := range all {
			for d := path.Dir(f); d != "." && !seen[d]; d = path.Dir(d) {
				seen[d] = true
				paths = append(paths, d)
			}
		}
		sort.Strings(paths)
		for _, p := range paths {
			in, ex := false, false
			for _, d := range dirs {
				if ok, _ := path.Match(str(d, "path"), p); ok {
					if d["exclude"] == true {
						ex = true
					} else {
						in = true
					}
				}
			}
			if in && !ex {
				out = append(out, pathParams(gt, prefix, p, ""))
			}
		}
		return withValues(gt, obj(g, "values"), out)
	}
	for _, fp := range list(g["files"]) {
		pattern := str(fp, "path")
		for _, f := range all {
			if !globPath(pattern, f) {
				continue
			}
			if fp["exclude"] == true {
				continue
			}
			c, err := b.Read(f)
			if err != nil {
				return nil, err
			}
			var docs []map[string]any
			one := map[string]any{}
			if err := sigsyaml.Unmarshal(c, &one); err == nil {
				docs = []map[string]any{one}
			} else if err := sigsyaml.Unmarshal(c, &docs); err != nil {
				return nil, fmt.Errorf("git files generator: %s: %w", f, err)
			}
			for _, d := range docs {
				p := pathParams(gt, prefix, path.Dir(f), path.Base(f))
				if gt.on {
					for k, v := range d {
						if k != "path" || prefix != "" {
							p[k] = v
						}
					}
				} else {
					for k, v := range flatten(d, "") {
						p[k] = v
					}
				}
				out = append(out, p)
			}
		}
	}
	return withValues(gt, obj(g, "values"), out)
}

func pathParams(gt goTemplate, prefix, dir, file string) map[string]any {
	p := map[string]any{}
	if gt.on {
		pp := map[string]any{"path": dir, "basename": path.Base(dir), "basenameNormalized": sanitize(path.Base(dir))}
		var segs []any
		for _, s := range strings.Split(dir, "/") {
			segs = append(segs, s)
		}
		pp["segments"] = segs
		if file != "" {
			pp["filename"], pp["filenameNormalized"] = file, sanitize(file)
		}
		if prefix != "" {
			p[prefix] = map[string]any{"path": pp}
		} else {
			p["path"] = pp
		}
		return p
	}
	name := "path"
	if prefix != "" {
		name = prefix + ".path"
	}
	p[name], p[name+".basename"], p[name+".basenameNormalized"] = dir, path.Base(dir), sanitize(path.Base(dir))
	if file != "" {
		p[name+".filename"], p[name+".filenameNormalized"] = file, sanitize(file)
	}
	for i, s := range strings.Split(dir, "/") {
		if s != "" {
			p[name+"["+strconv.Itoa(i)+"]"] = s
		}
	}
	return p
}

// globPath matches a git files generator's pattern, where "**" crosses
// directories.
func globPath(pattern, name string) bool {
	if !strings.Contains(pattern, "**") {
		ok, _ := path.Match(pattern, name)
		return ok
	}
	var re strings.Builder
	re.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == '*' && i+1 < len(pattern) && pattern[i+1] == '*':
			re.WriteString(".*")
			i++
			if i+1 < len(pattern) && pattern[i+1] == '/' {
				re.WriteString("/?")
				i++
			}
		case c == '*':
			re.WriteString("[^/]*")
		case c == '?':
			re.WriteString("[^/]")
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString("$")
	ok, _ := regexp.MatchString(re.String(), name)
	return ok
}

// matrixParams combines two generators: each set of the first with each
// set of the second, the second templated with the first's parameters
// (applicationset/generators/matrix.go).
func matrixParams(b *render.Build, gt goTemplate, m map[string]any) ([]map[string]any, error) {
	gens := list(m["generators"])
	if len(gens) != 2 {
		return nil, fmt.Errorf("a matrix generator needs two generators, not %d", len(gens))
	}
	first, err := generate(b, gt, gens[0], nil)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, a := range first {
		second, err := generate(b, gt, gens[1], a)
		if err != nil {
			return nil, err
		}
		for _, c := range second {
			out = append(out, combine(gt, a, c))
			if len(out) > maxGenerated {
				return nil, fmt.Errorf("a matrix generator makes more than %d sets", maxGenerated)
			}
		}
	}
	return out, nil
}

func combine(gt goTemplate, a, c map[string]any) map[string]any {
	if gt.on {
		return render.MergeValues(a, c)
	}
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range c {
		out[k] = v
	}
	return out
}

// mergeParams merges generators' sets on mergeKeys: the first
// generator's sets, each overridden by the later sets with the same keys
// (applicationset/generators/merge.go).
func mergeParams(b *render.Build, gt goTemplate, m map[string]any) ([]map[string]any, error) {
	keys := strs(m["mergeKeys"])
	gens := list(m["generators"])
	if len(gens) < 2 || len(keys) == 0 {
		return nil, fmt.Errorf("a merge generator needs two generators and mergeKeys")
	}
	base, err := generate(b, gt, gens[0], nil)
	if err != nil {
		return nil, err
	}
	keyOf := func(p map[string]any) string {
		var parts []string
		for _, k := range keys {
			v, _ := lookupParam(p, k)
			parts = append(parts, fmt.Sprint(v))
		}
		return strings.Join(parts, "\x00")
	}
	for _, g := range gens[1:] {
		more, err := generate(b, gt, g, nil)
		if err != nil {
			return nil, err
		}
		by := map[string]map[string]any{}
		for _, p := range more {
			by[keyOf(p)] = p
		}
		for i, p := range base {
			if o, ok := by[keyOf(p)]; ok {
				base[i] = combine(gt, p, o)
			}
		}
	}
	return base, nil
}

func lookupParam(p map[string]any, key string) (any, bool) {
	if v, ok := p[key]; ok {
		return v, true
	}
	var cur any = p
	for _, k := range strings.Split(key, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = m[k]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

// selectParams keeps the sets a generator's selector matches, on their
// string parameters as labels (applicationset/generators/utils.go).
func selectParams(sel map[string]any, sets []map[string]any) ([]map[string]any, error) {
	var ls metav1.LabelSelector
	if err := remarshal(sel, &ls); err != nil {
		return nil, err
	}
	s, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, p := range sets {
		set := labels.Set{}
		for k, v := range flatten(p, "") {
			set[k] = v
		}
		if s.Matches(set) {
			out = append(out, p)
		}
	}
	return out, nil
}

// goTemplate is an ApplicationSet's template syntax: fasttemplate's
// {{key}} on flat string parameters, or text/template with sprig.
type goTemplate struct {
	on      bool
	options []string
}

// funcs are sprig's, without those that read the controller's
// environment, plus Argo CD's own (applicationset/utils/utils.go).
var funcs = func() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	delete(f, "getHostByName")
	f["normalize"] = sanitize
	f["toYaml"] = func(v any) string { b, _ := sigsyaml.Marshal(v); return strings.TrimSuffix(string(b), "\n") }
	f["fromYaml"] = func(s string) map[string]any { m := map[string]any{}; _ = sigsyaml.Unmarshal([]byte(s), &m); return m }
	f["fromYamlArray"] = func(s string) []any { var a []any; _ = sigsyaml.Unmarshal([]byte(s), &a); return a }
	return f
}()

// apply templates every string of v with params, as Argo CD's
// deeplyReplace does; map keys are left as they are.
func (g goTemplate) apply(v any, params map[string]any) (any, error) {
	switch t := v.(type) {
	case string:
		return g.replace(t, params)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			r, err := g.apply(e, params)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			r, err := g.apply(e, params)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

var templated = regexp.MustCompile(`\{\{.*\}\}`)

func (g goTemplate) replace(s string, params map[string]any) (string, error) {
	if g.on {
		t := template.New("").Funcs(funcs)
		for _, o := range g.options {
			t = t.Option(o)
		}
		t, err := t.Parse(s)
		if err != nil {
			return "", fmt.Errorf("template %q: %w", s, err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, params); err != nil {
			return "", fmt.Errorf("template %q: %w", s, err)
		}
		return buf.String(), nil
	}
	if !templated.MatchString(s) {
		return s, nil
	}
	ft, err := fasttemplate.NewTemplate(s, "{{", "}}")
	if err != nil {
		return "", err
	}
	return ft.ExecuteFuncString(func(w io.Writer, tag string) (int, error) {
		v, ok := params[strings.TrimSpace(tag)].(string)
		if strings.TrimSpace(tag) == "" || !ok {
			return fmt.Fprintf(w, "{{%s}}", tag)
		}
		return w.Write([]byte(v))
	}), nil
}

// sanitize is Argo CD's SanitizeName: a DNS-safe name.
func sanitize(name string) string {
	name = regexp.MustCompile("[^-a-z0-9.]").ReplaceAllString(strings.ToLower(name), "-")
	if len(name) > 253 {
		name = name[:253]
	}
	return strings.Trim(name, "-.")
}

// flatten is a nested map as dotted string keys (github.com/jeremywohl/flatten's DotStyle).
func flatten(m map[string]any, prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		switch t := v.(type) {
		case map[string]any:
			for kk, vv := range flatten(t, key) {
				out[kk] = vv
			}
		case []any:
			for i, e := range t {
				if em, ok := e.(map[string]any); ok {
					for kk, vv := range flatten(em, key+"."+strconv.Itoa(i)) {
						out[kk] = vv
					}
				} else {
					out[key+"."+strconv.Itoa(i)] = fmt.Sprint(e)
				}
			}
		default:
			out[key] = fmt.Sprint(v)
		}
	}
	return out
}

func secretData(o map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range obj(o, "data") {
		s, _ := v.(string)
		if d, err := base64.StdEncoding.DecodeString(s); err == nil {
			out[k] = string(d)
		}
	}
	for k, v := range obj(o, "stringData") {
		s, _ := v.(string)
		out[k] = s
	}
	return out
}

func stringMap(m map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	return out
}

func anyMap(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func remarshal(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}
