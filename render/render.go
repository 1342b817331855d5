// Package render models what each environment's controllers will apply.
//
// It renders an environment's directory as its GitOps controller does,
// follows every applier it finds (a Flux Kustomization or HelmRelease, an
// Argo CD Application or ApplicationSet) to what that applier applies, and
// keeps, for every object, the applier that applies it and the file it
// comes from. What Flux and Argo CD do lives in providers/flux and
// providers/argocd, behind Tool: this package knows no tool's kinds.
package render

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Ref names an object.
type Ref struct{ Kind, Namespace, Name string }

func (r Ref) String() string { return r.Kind + "/" + r.Namespace + "/" + r.Name }

// Dir is the applier's directory name in `render --out`: Kind_namespace_name.
func (r Ref) Dir() string { return r.Kind + "_" + r.Namespace + "_" + r.Name }

// Root is the applier standing for what applies an environment's directory
// itself (Flux's flux-system Kustomization, the app of apps someone
// applied by hand).
var Root = Ref{Kind: "_root"}

// Object is one rendered object and where it comes from.
type Object struct {
	Obj     map[string]any
	File    string // repository file that holds it; "" when a chart or a generator makes it
	Applier int    // index in Env.Appliers of the applier that applies it
	// Inflated: a kustomization's helmCharts entry made it (File is then
	// that kustomization).
	Inflated *Inflated
}

func (o Object) str(keys ...string) string {
	var cur any = o.Obj
	for _, k := range keys {
		m, _ := cur.(map[string]any)
		cur = m[k]
	}
	s, _ := cur.(string)
	return s
}

func (o Object) APIVersion() string { return o.str("apiVersion") }
func (o Object) Kind() string       { return o.str("kind") }
func (o Object) Name() string       { return o.str("metadata", "name") }
func (o Object) Namespace() string  { return o.str("metadata", "namespace") }

// Group is the API group of the object ("" for the core group).
func (o Object) Group() string {
	if g, _, ok := strings.Cut(o.APIVersion(), "/"); ok {
		return g
	}
	return ""
}

// Ref names the object.
func (o Object) Ref() Ref { return Ref{Kind: o.Kind(), Namespace: o.Namespace(), Name: o.Name()} }

// ID is the object's identity in a cluster: group, kind, namespace, name.
func (o Object) ID() string { return o.Group() + "/" + o.Ref().String() }

// Applier is an object that applies others, or the environment's root.
type Applier struct {
	Ref    Ref
	Tool   string // "flux", "argocd"
	Parent int    // index of the applier that applies this one; -1 for the root
	File   string // the file that defines the applier ("" for the root)
	// Source says what it renders, for replies: a directory, a chart.
	Source string
	// Inputs are the repository files its render read, sorted: a change to
	// any of them renders it again.
	Inputs []string
	// Err says why it could not be rendered; its objects are then missing.
	Err error
	// Obj is the applier's own object as rendered (nil for the root).
	Obj map[string]any
	// Helm is set when the applier renders a chart.
	Helm *HelmLayers
}

// Env is what one environment applies.
type Env struct {
	Name, Dir string
	Appliers  []*Applier
	Objects   []Object
}

// Chain is the appliers from the root down to applier i.
func (e *Env) Chain(i int) []*Applier {
	var out []*Applier
	for i >= 0 && i < len(e.Appliers) {
		out = append([]*Applier{e.Appliers[i]}, out...)
		i = e.Appliers[i].Parent
	}
	return out
}

// Failed lists the appliers that could not be rendered.
func (e *Env) Failed() []*Applier {
	var out []*Applier
	for _, a := range e.Appliers {
		if a.Err != nil {
			out = append(out, a)
		}
	}
	return out
}

// Reads reports whether the environment's render read file p.
func (e *Env) Reads(p string) bool {
	for _, a := range e.Appliers {
		i := sort.SearchStrings(a.Inputs, p)
		if i < len(a.Inputs) && a.Inputs[i] == p {
			return true
		}
	}
	return false
}

// Affected reports whether a change of these files can change the
// environment's render: its render read one of them, or listed the
// directory a new one is in.
func (e *Env) Affected(paths []string) bool {
	for _, p := range paths {
		if e.Reads(p) {
			return true
		}
		for _, a := range e.Appliers {
			for _, in := range a.Inputs {
				if strings.HasSuffix(in, "/") && (in == "/" || strings.HasPrefix(p, in)) {
					return true
				}
			}
		}
	}
	return false
}

// Tool is what one GitOps tool knows: how it applies a directory, and how
// each of its appliers renders.
type Tool interface {
	Name() string
	// Root renders an environment's directory as the tool applies it.
	Root(ctx context.Context, b *Build, dir string) ([]Object, error)
	// Expand renders what obj applies when obj is one of the tool's
	// appliers (ok false otherwise). It returns ErrWait when it needs
	// objects other appliers have not rendered yet (a HelmRelease's
	// source); b.Final says the render will not wait any longer.
	Expand(ctx context.Context, b *Build, obj Object) (Expansion, bool)
}

// Expansion is what one applier renders.
type Expansion struct {
	Source  string
	Objects []Object
	Err     error
	// Helm, for an applier that renders a chart: the values it rendered
	// with and the repository files they came from.
	Helm *HelmLayers
}

// HelmLayers are a chart render's values: the effective values (the
// chart's and its subcharts' defaults included) and the repository files
// that set them, lowest precedence first.
type HelmLayers struct {
	Values  map[string]any
	Files   []string
	Chart   string // the chart's name
	Version string // and version
}

// ErrWait: the applier needs what other appliers render first.
var ErrWait = errors.New("waits for other appliers")

// maxAppliers bounds one environment's render, so that an app of apps that
// applies itself, or a fleet a million Applications wide, ends.
const maxAppliers = 5000

// environment renders one environment: the root, then every applier found,
// breadth first, until none is left.
func (r *Renderer) environment(ctx context.Context, t *Tree, s Spec) (*Env, error) {
	tool := r.tool(s.Tool)
	if tool == nil {
		return nil, fmt.Errorf("render: no tool %q", s.Tool)
	}
	env := &Env{Name: s.Name, Dir: s.Dir}
	b := &Build{Tree: t, Env: env, opts: &r.opts, ctx: ctx}
	root := &Applier{Ref: Root, Tool: tool.Name(), Parent: -1, Source: s.Dir}
	env.Appliers = append(env.Appliers, root)
	var objs []Object
	var err error
	root.Inputs = b.recordInputs(func() { objs, err = tool.Root(ctx, b, s.Dir) })
	root.Err = err
	var pending []int // objects not yet asked whether they apply others
	add := func(objs []Object, applier int) {
		for _, o := range objs {
			o.Applier = applier
			env.Objects = append(env.Objects, o)
			pending = append(pending, len(env.Objects)-1)
		}
	}
	add(objs, 0)
	seen := map[string]bool{}
	var waiting []int
	for len(pending) > 0 || len(waiting) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(pending) == 0 {
			// Nothing new came: the waiting appliers render with what there is.
			b.Final = true
			pending, waiting = waiting, nil
		}
		i := pending[0]
		pending = pending[1:]
		o := env.Objects[i]
		for _, tl := range r.opts.Tools {
			x, inputs, ok := r.expand(ctx, b, tl, o)
			if !ok {
				continue
			}
			if errors.Is(x.Err, ErrWait) && !b.Final {
				waiting = append(waiting, i)
				break
			}
			if seen[o.ID()] {
				break // the same applier twice (an app of apps applying itself)
			}
			seen[o.ID()] = true
			if len(env.Appliers) >= maxAppliers {
				return nil, fmt.Errorf("environment %s has more than %d appliers", s.Name, maxAppliers)
			}
			if o.File != "" {
				inputs = merge(inputs, []string{o.File})
			}
			a := &Applier{Ref: o.Ref(), Tool: tl.Name(), Parent: o.Applier, File: o.File, Source: x.Source, Inputs: inputs, Err: x.Err, Obj: o.Obj, Helm: x.Helm}
			env.Appliers = append(env.Appliers, a)
			add(x.Objects, len(env.Appliers)-1)
			break
		}
	}
	return env, nil
}

// cachedExpansion is an applier's render with what it depended on: the
// content of the files it read and the objects it looked up.
type cachedExpansion struct {
	x      Expansion
	inputs []string
	sums   map[string]string
	deps   map[string]string
}

// expand renders what o applies, from the cache when nothing it read or
// looked up has changed.
func (r *Renderer) expand(ctx context.Context, b *Build, tl Tool, o Object) (Expansion, []string, bool) {
	key := fmt.Sprint(tl.Name(), "\x00", r.opts.RepoURL, "\x00", r.opts.Charts != nil, "\x00", b.Env.Dir, "\x00", hashOf(jsonOf(o.Obj)))
	if v, ok := r.appls.Get(key); ok {
		c := v.(*cachedExpansion)
		if b.unchanged(c) {
			r.mu.Lock()
			r.stats.Reused++
			r.mu.Unlock()
			return c.x, c.inputs, true
		}
	}
	var x Expansion
	var ok bool
	b.deps = map[string]string{}
	inputs := b.recordInputs(func() { x, ok = tl.Expand(ctx, b, o) })
	deps := b.deps
	b.deps = nil
	if !ok {
		return x, nil, false
	}
	r.mu.Lock()
	r.stats.Renders++
	r.mu.Unlock()
	if errors.Is(x.Err, ErrWait) || ctx.Err() != nil {
		return x, inputs, true
	}
	c := &cachedExpansion{x: x, inputs: inputs, sums: map[string]string{}, deps: deps}
	for _, p := range inputs {
		c.sums[p] = b.sum(p)
	}
	r.appls.Add(key, c)
	return x, inputs, true
}

// sum names the content of an input: a file's bytes, a directory's listing.
func (b *Build) sum(p string) string {
	if strings.HasSuffix(p, "/") {
		return hashOf([]byte(strings.Join(b.Tree.Under(strings.TrimSuffix(p, "/")), "\n")))
	}
	c, err := b.Tree.Read(p)
	if err != nil {
		return "missing"
	}
	return hashOf(c)
}

func (b *Build) unchanged(c *cachedExpansion) bool {
	for p, s := range c.sums {
		if b.sum(p) != s {
			return false
		}
	}
	for k, s := range c.deps {
		if b.lookup(k) != s {
			return false
		}
	}
	return true
}

func merge(a, b []string) []string {
	set := map[string]bool{}
	for _, s := range a {
		set[s] = true
	}
	for _, s := range b {
		set[s] = true
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
