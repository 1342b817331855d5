// Package preview says, before a merge, what each environment will get:
// both sides of a change rendered by the model (render), compared object
// by object, with the images, the resources and the warnings a reviewer
// needs, and every Secret value masked. It renders and compares; the bot
// (bot/preview.go) and the command line (gitops-bot preview) post or
// print what it returns.
package preview

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/render"
)

// Options say how a preview is judged and cut.
type Options struct {
	// Fail are the warning IDs that fail the check (neutral otherwise).
	Fail map[string]bool
	// Limit bounds the summary and the text each (GitHub takes 65,535
	// characters); 0 is that.
	Limit int
	// SeeAll says how to see a preview that was cut, for its text.
	SeeAll string
}

// MaxText is the most GitHub takes in a check run's summary or text.
const MaxText = 65535

// Report is the preview of one environment.
type Report struct {
	Env         string             `json:"env"`
	Conclusion  string             `json:"conclusion"` // success, neutral, failure
	Title       string             `json:"title"`
	Summary     string             `json:"summary"`
	Text        string             `json:"text"`
	Added       []ObjectRef        `json:"added"`
	Changed     []ObjectRef        `json:"changed"`
	Removed     []ObjectRef        `json:"removed"`
	Images      []ImageChange      `json:"images"`
	Resources   Resources          `json:"resources"`
	Warnings    []Warning          `json:"warnings"`
	Annotations []forge.Annotation `json:"annotations"`
	Routine     bool               `json:"routine"`

	diffs  map[string]string // object key -> unified diff, masked
	failed []failure
}

// ObjectRef names a rendered object and the applier that applies it.
type ObjectRef struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Applier   string `json:"applier"`
	key       string
}

func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// ImageChange is a container whose image changes.
type ImageChange struct {
	Workload  string `json:"workload"`
	Container string `json:"container"`
	From      string `json:"from"`
	To        string `json:"to"`
}

// Delta is a quantity before and after.
type Delta struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Resources are the requests and limits of the environment's workloads,
// summed over their replicas.
type Resources struct {
	CPURequests    Delta `json:"cpuRequests"`
	MemoryRequests Delta `json:"memoryRequests"`
	CPULimits      Delta `json:"cpuLimits"`
	MemoryLimits   Delta `json:"memoryLimits"`
}

// Warning is something worth a reviewer's eye.
type Warning struct {
	ID      string `json:"id"`
	Message string `json:"message"`
	Path    string `json:"path,omitempty"`
	Line    int    `json:"line,omitempty"`
	Fails   bool   `json:"fails"`
}

type failure struct {
	applier, path, err string
	line               int
	fixed              bool // failed before, renders now
	added              bool // not on the base: it does not render, rather than no longer
	// offline: not rendered because its chart source is not fetched (a
	// source the base does not name); said, but not a failure of the
	// pull request.
	offline bool
}

// verb says what happened to the applier's render.
func (f failure) verb() string {
	switch {
	case f.offline:
		return "is not rendered"
	case f.added:
		return "does not render"
	}
	return "no longer renders"
}

// Affected says whether env reads any of the changed files on either side.
func Affected(base, head *render.Env, changed []string) bool {
	return base != nil && base.Affected(changed) || head != nil && head.Affected(changed)
}

// Compare is the preview of one environment from its two renders.
func Compare(base, head *render.Env, baseTree, headTree *render.Tree, o Options) *Report {
	r := newReport(head.Name)
	secrets := secretValues(base, head)
	skip := r.failures(base, head, headTree, baseTree)
	before, after := index(base, skip), index(head, skip)
	for _, k := range sortedKeys(after) {
		a := after[k]
		b, ok := before[k]
		switch {
		case !ok:
			r.Added = append(r.Added, a.ref)
			r.diffs[k] = diff(nil, a.obj, secrets)
		case !same(b.obj, a.obj):
			r.Changed = append(r.Changed, a.ref)
			r.diffs[k] = diff(b.obj, a.obj, secrets)
		}
	}
	for _, k := range sortedKeys(before) {
		if _, ok := after[k]; !ok {
			r.Removed = append(r.Removed, before[k].ref)
			r.diffs[k] = diff(before[k].obj, nil, secrets)
		}
	}
	r.Images = images(before, after)
	r.Resources = resourcesDelta(before, after)
	r.Warnings = warnings(before, after, base, head, headTree, baseTree)
	for i := range r.Warnings {
		r.Warnings[i].Fails = o.Fail[r.Warnings[i].ID]
	}
	r.Routine = routine(before, after, r)
	r.conclude(o)
	return r
}

// Failed is the preview of an environment whose head does not render at
// all.
func Failed(env string, err error) *Report {
	r := newReport(env)
	r.Conclusion = "failure"
	r.Title = fmt.Sprintf("%s does not render", env)
	r.Summary = "The environment could not be rendered: " + err.Error()
	return r
}

// newReport has empty lists, not null ones, in its JSON.
func newReport(env string) *Report {
	return &Report{Env: env, diffs: map[string]string{}, Added: []ObjectRef{}, Changed: []ObjectRef{}, Removed: []ObjectRef{},
		Images: []ImageChange{}, Warnings: []Warning{}, Annotations: []forge.Annotation{}}
}

// entry is a rendered object with its applier's name.
type entry struct {
	obj     map[string]any
	file    string
	ref     ObjectRef
	applier *render.Applier
}

// index keys an environment's objects by their identity; objects of an
// applier that failed on either side are left out (the failure is shown,
// not every object of the other side as added or removed).
func index(env *render.Env, skip map[string]bool) map[string]entry {
	out := map[string]entry{}
	if env == nil {
		return out
	}
	seen := map[string]int{}
	for _, o := range env.Objects {
		chain := env.Chain(o.Applier)
		gone := false
		for _, a := range chain {
			gone = gone || skip[a.Ref.String()]
		}
		if gone {
			continue
		}
		k := o.ID()
		if n := seen[k]; n > 0 {
			k = fmt.Sprintf("%s#%d", k, n)
		}
		seen[o.ID()]++
		a := chain[len(chain)-1]
		name := "the environment's directory"
		if a.Ref != render.Root {
			name = a.Ref.Kind + " " + strings.TrimPrefix(a.Ref.Namespace+"/"+a.Ref.Name, "/")
		}
		out[k] = entry{obj: o.Obj, file: o.File, applier: a,
			ref: ObjectRef{Kind: o.Kind(), Namespace: o.Namespace(), Name: o.Name(), Applier: name, key: k}}
	}
	return out
}

// failures notes the appliers that fail on one side only (or fail
// otherwise than before) and returns them, to leave their objects out.
func (r *Report) failures(base, head *render.Env, headTree, baseTree *render.Tree) map[string]bool {
	skip := map[string]bool{}
	errs := func(env *render.Env) map[string]*render.Applier {
		out := map[string]*render.Applier{}
		if env != nil {
			for _, a := range env.Failed() {
				out[a.Ref.String()] = a
			}
		}
		return out
	}
	fb, fh := errs(base), errs(head)
	onBase := map[string]bool{}
	if base != nil {
		for _, a := range base.Appliers {
			onBase[a.Ref.String()] = true
		}
	}
	for k, a := range fh {
		skip[k] = true
		if b, ok := fb[k]; ok && b.Err.Error() == a.Err.Error() {
			continue // as broken as before
		}
		path, line := applierLine(headTree, a)
		r.failed = append(r.failed, failure{applier: name(a), path: path, line: line, err: a.Err.Error(),
			added: !onBase[k], offline: errors.Is(a.Err, render.ErrOffline)})
	}
	for k, a := range fb {
		if _, ok := fh[k]; !ok {
			skip[k] = true
			r.failed = append(r.failed, failure{applier: name(a), err: a.Err.Error(), fixed: true})
		}
	}
	sort.Slice(r.failed, func(i, j int) bool { return r.failed[i].applier < r.failed[j].applier })
	return skip
}

func name(a *render.Applier) string {
	if a.Ref == render.Root {
		return "the environment's directory " + a.Source
	}
	return a.Ref.Kind + " " + strings.TrimPrefix(a.Ref.Namespace+"/"+a.Ref.Name, "/")
}

// conclude sets the conclusion, the title, the summary and the text.
func (r *Report) conclude(o Options) {
	r.Conclusion = "success"
	if len(r.Warnings) > 0 {
		r.Conclusion = "neutral"
	}
	for _, w := range r.Warnings {
		if w.Fails {
			r.Conclusion = "failure"
		}
	}
	for _, f := range r.failed {
		switch {
		case f.offline && r.Conclusion == "success":
			r.Conclusion = "neutral"
		case !f.fixed && !f.offline:
			r.Conclusion = "failure"
		}
	}
	r.annotate()
	r.Title = r.title()
	r.Summary, r.Text = r.markdown(o)
}

func sortedKeys(m map[string]entry) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	// By applier, then by kind and name: a reviewer reads one applier's
	// objects together.
	sort.Slice(out, func(i, j int) bool {
		a, b := m[out[i]].ref, m[out[j]].ref
		if a.Applier != b.Applier {
			return a.Applier < b.Applier
		}
		return out[i] < out[j]
	})
	return out
}
