package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/agext/levenshtein"

	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/bot/model"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers/shape"
	"github.com/gitops-bot/gitops-bot/render"

	// The tools' shapes register themselves.
	_ "github.com/gitops-bot/gitops-bot/providers/argocd"
	_ "github.com/gitops-bot/gitops-bot/providers/flux"
)

// renders keeps appliers' renders across commands: a command on a commit
// the bot rendered before renders only what changed since.
var renders = render.NewCache(20000)

// RenderStats count the appliers rendered by every command so far.
type RenderStats = render.Stats

var statsMu sync.Mutex
var totals render.Stats

// Renders is what the commands' renders did so far.
func Renders() RenderStats {
	statsMu.Lock()
	defer statsMu.Unlock()
	return totals
}

// Model is what each environment of the repository runs, rendered once
// per command, with the files it parsed.
type Model struct {
	r     *render.Renderer
	tree  *render.Tree
	specs []render.Spec
	envs  map[string]*render.Env // by spec name
	docs  *shape.Docs
	// Renders counts the environments rendered for the command (edits tried included).
	Renders int
}

// Model renders the repository's environments (once per Repo).
func (w *Repo) Model(ctx context.Context) (*Model, error) {
	if w.model != nil {
		return w.model, nil
	}
	files, err := w.Files.Files(ctx)
	if err != nil {
		return nil, err
	}
	specs := model.Specs(w.Config, files)
	if w.Config.ProviderDefaulted() {
		for i := range specs {
			if found, err := w.DetectProvider(ctx, specs[i].Dir); err == nil && found != "" {
				specs[i].Tool = found
			}
		}
	}
	var charts render.Charts
	if c, ok := w.Charts.(render.Charts); ok {
		charts = c
	}
	tree := render.NewTree(ctx, w.Files, "")
	m := &Model{
		r:     render.New(render.Options{Tools: model.Tools(), RepoURL: w.CloneURL, Charts: charts, Cache: renders}),
		tree:  tree,
		specs: specs,
		envs:  map[string]*render.Env{},
		docs:  shape.NewDocs(tree),
	}
	shared := map[string]*render.Env{}
	for _, s := range specs {
		key := s.Tool + "\x00" + s.Dir
		env := shared[key]
		if env == nil {
			if env, err = m.render(ctx, tree, s); err != nil {
				return nil, err
			}
			shared[key] = env
		}
		m.envs[s.Name] = env
	}
	w.model = m
	return m, nil
}

// render renders one environment, sharing the render of environments
// with the same directory.
func (m *Model) render(ctx context.Context, t *render.Tree, s render.Spec) (*render.Env, error) {
	m.Renders++
	before := m.r.Stats()
	env, err := m.r.Env(ctx, t, s)
	after := m.r.Stats()
	statsMu.Lock()
	totals.Renders += after.Renders - before.Renders
	totals.Reused += after.Reused - before.Reused
	statsMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("rendering %s: %w", s.Name, err)
	}
	return env, nil
}

// Env is the render of environment name.
func (m *Model) Env(name string) *render.Env { return m.envs[name] }

// Parsed is how many files the command parsed for its edits.
func (m *Model) Parsed() int { return m.docs.Parsed() }

// Workload is a workload of an environment's render.
type Workload struct {
	Env    *render.Env
	Object render.Object
	// Why names the name it was found by, for replies.
	Why string
}

// Chain is the appliers from the environment's root to the workload.
func (wl Workload) Chain() []*render.Applier { return wl.Env.Chain(wl.Object.Applier) }

// Describe is "Deployment `web` (applied by the HelmRelease `web`, from `apps/web/release.yaml`)".
func (wl Workload) Describe() string {
	a := wl.Env.Appliers[wl.Object.Applier]
	by := "the environment's directory"
	if a.Ref != render.Root {
		by = fmt.Sprintf("the %s %s", a.Ref.Kind, md.Code(a.Ref.Name))
	}
	from := wl.Object.File
	if from == "" {
		from = a.Source
	}
	return fmt.Sprintf("the %s %s (applied by %s, from %s)", wl.Object.Kind(), md.Code(wl.Object.Name()), by, md.Code(from))
}

// names are the names a person calls a workload by, with how strongly
// each names it.
func names(env *render.Env, o render.Object) map[string]int {
	out := map[string]int{}
	add := func(n string, score int) {
		if n != "" && out[n] < score {
			out[n] = score
		}
	}
	add(o.Name(), 3)
	for _, l := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app"} {
		add(shape.Str(o.Obj, "metadata", "labels", l), 3)
	}
	for _, a := range env.Chain(o.Applier) {
		if a.Ref == render.Root {
			continue
		}
		add(a.Ref.Name, 2)
		add(shape.Str(a.Obj, "spec", "releaseName"), 2)
		if a.Helm != nil {
			add(a.Helm.Chart, 1)
		}
		for _, seg := range strings.Split(a.Source, "/") {
			add(seg, 1)
		}
	}
	for _, seg := range strings.Split(path.Dir(o.File), "/") {
		add(seg, 1)
	}
	return out
}

// Resolve finds the workloads app names in env, the best named first;
// image, when set, narrows to those running it.
func (m *Model) Resolve(app string, env config.Environment, image string) ([]Workload, error) {
	e := m.envs[env.Name]
	if e == nil {
		return nil, nil
	}
	best := 0
	var found []Workload
	for _, o := range e.Objects {
		if !shape.IsWorkload(o) {
			continue
		}
		ns := names(e, o)
		score := ns[app]
		for _, suffix := range []string{"-" + env.Name, env.Name + "-"} {
			for n, s := range ns {
				if s >= 2 && (n == app+suffix || n == suffix+app) && score < s {
					score = s
				}
			}
		}
		if score == 0 || score < best {
			continue
		}
		if score > best {
			best, found = score, nil
		}
		found = append(found, Workload{Env: e, Object: o})
	}
	found = deepest(found)
	if len(found) > 1 {
		found = narrow(found, func(wl Workload) bool { return mentions(wl, env.Name) })
	}
	if len(found) > 1 && image != "" {
		name := shape.ParseImg(image).Name
		found = narrow(found, func(wl Workload) bool {
			for _, c := range shape.Containers(wl.Object.Obj) {
				if s, _ := c["image"].(string); shape.ParseImg(s).Name == name {
					return true
				}
			}
			return false
		})
	}
	return found, nil
}

// deepest keeps, of workloads that are one object applied twice (an app
// of apps that applies its own directory), the one its last applier
// applies.
func deepest(ws []Workload) []Workload {
	best := map[string]int{}
	for i, w := range ws {
		id := w.Object.ID() + " " + w.Object.File
		if j, ok := best[id]; !ok || len(w.Chain()) > len(ws[j].Chain()) {
			best[id] = i
		}
	}
	var out []Workload
	for i, w := range ws {
		if best[w.Object.ID()+" "+w.Object.File] == i {
			out = append(out, w)
		}
	}
	return out
}

// narrow keeps the workloads keep says yes to, unless none.
func narrow(ws []Workload, keep func(Workload) bool) []Workload {
	var out []Workload
	for _, w := range ws {
		if keep(w) {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		return ws
	}
	return out
}

// mentions: the environment's name is a segment of the workload's
// appliers' names or paths (environments sharing a directory).
func mentions(wl Workload, env string) bool {
	for n := range names(wl.Env, wl.Object) {
		for _, sep := range []string{"-", "_", "."} {
			if n == env || strings.HasPrefix(n, env+sep) || strings.HasSuffix(n, sep+env) || strings.Contains(n, sep+env+sep) {
				return true
			}
		}
	}
	for _, a := range wl.Chain() {
		if a.Ref == render.Root {
			continue // every workload of the environment is under its directory
		}
		for _, seg := range strings.Split(a.Source, "/") {
			if seg == env {
				return true
			}
		}
	}
	return false
}

// Nearest are names of env's workloads close to app, for a reply.
func (m *Model) Nearest(app string, env string) []string {
	e := m.envs[env]
	if e == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, o := range e.Objects {
		if !shape.IsWorkload(o) {
			continue
		}
		for n := range names(e, o) {
			if !seen[n] && levenshtein.Distance(n, app, nil) <= 3 || strings.Contains(n, app) && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	if len(out) > 5 {
		out = out[:5]
	}
	return out
}

// Attempt is an edit the engine tried, and why it failed.
type Attempt struct {
	Edit shape.Edit
	Why  string // "" when it passed
	// Overridden: the edit is made but another layer decides the value.
	Overridden bool
}

// Choose asks every shape for edits that could give the workload what is
// asked, renders each, and keeps the one that (a) gives the workload the
// value, (b) changes nothing else in its environment's render and (c)
// nothing in any other environment's. Of those, an edit of a value
// already there beats an addition, then the file fewest environments
// read, then the shape registered first.
func (m *Model) Choose(ctx context.Context, wl Workload, ask shape.Ask) (shape.Edit, []Attempt, error) {
	t := &shape.Target{Env: wl.Env, Object: wl.Object, Chain: wl.Chain(), Tree: m.tree, Docs: m.docs, Ask: ask}
	var edits []shape.Edit
	seen := map[string]bool{}
	for _, s := range shape.All() {
		for _, e := range s.Edits(t) {
			e.Shape = s.Name()
			key := fmt.Sprint(editFiles(e))
			if seen[key] || string(e.Content) == string(m.docs.Raw(e.File)) {
				continue
			}
			seen[key] = true
			edits = append(edits, e)
		}
	}
	var tried []Attempt
	var passed []int
	for i, e := range edits {
		if err := ctx.Err(); err != nil {
			return shape.Edit{}, tried, err
		}
		why, over, err := m.try(ctx, wl, ask, e)
		if err != nil {
			return shape.Edit{}, tried, err
		}
		tried = append(tried, Attempt{Edit: e, Why: why, Overridden: over})
		if why == "" {
			passed = append(passed, i)
		}
	}
	if len(passed) == 0 {
		return shape.Edit{}, tried, nil
	}
	sort.SliceStable(passed, func(i, j int) bool {
		a, b := edits[passed[i]], edits[passed[j]]
		if ra, rb := m.readers(a), m.readers(b); ra != rb {
			return ra < rb
		}
		if a.Layer != b.Layer {
			return a.Layer > b.Layer
		}
		if a.Adds != b.Adds {
			return !a.Adds
		}
		return len(a.Also) < len(b.Also) // a new file last
	})
	return edits[passed[0]], tried, nil
}

// readers counts the environments whose render reads what edit e
// writes (a new file counts as the kustomization that lists it).
func (m *Model) readers(e shape.Edit) int {
	n := 0
	for _, env := range m.envs {
		for _, f := range editFiles(e) {
			if env.Reads(f.Path) {
				n++
				break
			}
		}
	}
	return n
}

// try renders the repository with edit e and says why it does not do what
// is asked ("" when it does).
func (m *Model) try(ctx context.Context, wl Workload, ask shape.Ask, e shape.Edit) (string, bool, error) {
	files := editFiles(e)
	after := m.tree.With(ctx, files)
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	done := map[string]bool{}
	for _, s := range m.specs {
		// Environments that share a directory share one render: the
		// workload's environment is each of them.
		key := s.Tool + "\x00" + s.Dir
		if done[key] {
			continue
		}
		done[key] = true
		before := m.envs[s.Name]
		if !before.Affected(paths) {
			continue // it read none of the files: its render is the same
		}
		env, err := m.render(ctx, after, s)
		if err != nil {
			return "", false, err
		}
		if why, over := compare(before, env, wl, ask, s.Dir == wl.Env.Dir); why != "" {
			return why, over, nil
		}
	}
	return "", false, nil
}

// editFiles are the files an edit writes.
func editFiles(e shape.Edit) []forge.File {
	out := []forge.File{{Path: e.File, Content: e.Content}}
	for _, f := range e.Also {
		out = append(out, forge.File{Path: f.Path, Content: f.Content})
	}
	return out
}

// objectKey names a rendered object in its environment: the applier
// that applies it and its identity.
func objectKey(env *render.Env, o render.Object) string {
	return env.Appliers[o.Applier].Ref.String() + " " + o.ID()
}

// compare says how the render after an edit differs from before, other
// than in what is asked of the workload ("" when it does not);
// overridden says the workload did not get the value.
func compare(before, after *render.Env, wl Workload, ask shape.Ask, own bool) (why string, overridden bool) {
	failed := func(env *render.Env) map[string]string {
		out := map[string]string{}
		for _, a := range env.Failed() {
			out[a.Ref.String()] = a.Err.Error()
		}
		return out
	}
	fb, fa := failed(before), failed(after)
	for k, why := range fa {
		if fb[k] != why {
			return fmt.Sprintf("%s no longer renders in %s: %s", k, after.Name, why), false
		}
	}
	prev := map[string]render.Object{}
	seen := map[string]int{}
	for _, o := range before.Objects {
		prev[occurrence(seen, objectKey(before, o))] = o
	}
	seen = map[string]int{}
	target := objectKey(wl.Env, wl.Object)
	gotTarget := false
	// The workload's own appliers may change: an Application's override
	// is how some edits take effect. What they apply is compared.
	chain := map[string]bool{}
	for _, a := range wl.Chain() {
		chain[a.Ref.String()] = true
	}
	for _, o := range after.Objects {
		k := occurrence(seen, objectKey(after, o))
		p, ok := prev[k]
		if !ok {
			return fmt.Sprintf("it adds %s %s in %s", o.Kind(), md.Code(o.Name()), after.Name), false
		}
		delete(prev, k)
		if own && strings.TrimSuffix(k, "#0") == target {
			gotTarget = gotTarget || strings.TrimSuffix(k, "#0") == target
			if why := hasAsked(o, ask); why != "" {
				return why, true
			}
			if !reflect.DeepEqual(masked(p.Obj, ask), masked(o.Obj, ask)) {
				return fmt.Sprintf("it changes more of the %s %s than asked", o.Kind(), md.Code(o.Name())), false
			}
			continue
		}
		if own && chain[o.Ref().String()] && o.Ref() != wl.Object.Ref() {
			continue
		}
		if !reflect.DeepEqual(p.Obj, o.Obj) {
			return fmt.Sprintf("it also changes the %s %s in %s", o.Kind(), md.Code(o.Name()), after.Name), false
		}
	}
	for _, o := range prev {
		return fmt.Sprintf("it removes the %s %s from %s", o.Kind(), md.Code(o.Name()), after.Name), false
	}
	if own && !gotTarget {
		return fmt.Sprintf("the %s %s is no longer rendered", wl.Object.Kind(), md.Code(wl.Object.Name())), false
	}
	return "", false
}

// occurrence numbers keys seen more than once (a render may hold the same
// object twice, as two substitutions can name two objects alike).
func occurrence(seen map[string]int, k string) string {
	n := seen[k]
	seen[k]++
	return fmt.Sprintf("%s#%d", k, n)
}

// hasAsked says what the rendered workload lacks of what is asked.
func hasAsked(o render.Object, ask shape.Ask) string {
	switch ask.Field {
	case shape.Image:
		c := shape.Container(o.Obj, ask.Container)
		if got, _ := c["image"].(string); got != ask.Image.String() {
			return fmt.Sprintf("the container %s would run %s", md.Code(ask.Container), md.Code(got))
		}
	case shape.Replicas:
		if got := shape.Get(o.Obj, "spec", "replicas"); fmt.Sprint(got) != fmt.Sprint(ask.Replicas) {
			return fmt.Sprintf("the replicas would be %v", got)
		}
	case shape.Bounds:
		for k, want := range ask.Bounds {
			if got := shape.Get(o.Obj, "spec", k); fmt.Sprint(got) != fmt.Sprint(want) {
				return fmt.Sprintf("%s would be %v", md.Code(k), got)
			}
		}
	case shape.Resources:
		c := shape.Container(o.Obj, ask.Container)
		for k, want := range ask.Resources {
			parts := strings.Split(k, ".")
			got := shape.Get(c, append([]string{"resources"}, parts...)...)
			if fmt.Sprint(got) != want {
				return fmt.Sprintf("%s of %s would be %v", md.Code("resources."+k), md.Code(ask.Container), got)
			}
		}
	}
	return ""
}

// masked is the object without the fields asked, to compare the rest; a
// null is taken as absent, as the API server takes it.
func masked(obj map[string]any, ask shape.Ask) map[string]any {
	b, _ := json.Marshal(obj)
	var c map[string]any
	_ = json.Unmarshal(b, &c)
	dropNulls(c)
	switch ask.Field {
	case shape.Replicas:
		if spec, ok := c["spec"].(map[string]any); ok {
			delete(spec, "replicas")
		}
	case shape.Bounds:
		if spec, ok := c["spec"].(map[string]any); ok {
			for k := range ask.Bounds {
				delete(spec, k)
			}
		}
	case shape.Image, shape.Resources:
		ct := shape.Container(c, ask.Container)
		if ct == nil {
			break
		}
		if ask.Field == shape.Image {
			delete(ct, "image")
			break
		}
		res, _ := ct["resources"].(map[string]any)
		for k := range ask.Resources {
			group, name, _ := strings.Cut(k, ".")
			if g, ok := res[group].(map[string]any); ok {
				delete(g, name)
				if len(g) == 0 {
					delete(res, group)
				}
			}
		}
		if len(res) == 0 {
			delete(ct, "resources")
		}
	}
	return c
}

func dropNulls(m map[string]any) {
	for k, v := range m {
		switch t := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			dropNulls(t)
		case []any:
			for _, e := range t {
				if em, ok := e.(map[string]any); ok {
					dropNulls(em)
				}
			}
		}
	}
}

// Failed says why no edit passed, for a reply.
func Failed(tried []Attempt) string {
	if len(tried) == 0 {
		return "no file the render read sets that value"
	}
	var b strings.Builder
	b.WriteString("I tried:")
	for _, a := range tried {
		fmt.Fprintf(&b, "\n- %s: %s", a.Edit.Where, a.Why)
	}
	return b.String()
}

// ambiguous is the reply for several workloads by one name.
func ambiguous(app, env string, ws []Workload) error {
	var b strings.Builder
	for _, w := range ws {
		fmt.Fprintf(&b, "\n- %s", w.Describe())
	}
	return errs.Invalid("%s names several workloads in %s:%s\nName the one you mean by its own name.", md.Code(app), md.Code(env), b.String())
}
