package shape

import (
	"fmt"
	"strings"

	"github.com/gitops-bot/gitops-bot/providers/yamledit"
	"github.com/gitops-bot/gitops-bot/render"
)

func init() { Register(workloadDoc{}) }

// Workloads are the kinds that run containers, by the path of their pod
// template's spec.
var Workloads = map[string]string{
	"Deployment": "spec.template.spec", "StatefulSet": "spec.template.spec", "DaemonSet": "spec.template.spec",
	"ReplicaSet": "spec.template.spec", "Job": "spec.template.spec", "CronJob": "spec.jobTemplate.spec.template.spec",
	"Rollout": "spec.template.spec", "Pod": "spec",
}

// IsWorkload reports whether o runs containers.
func IsWorkload(o render.Object) bool {
	_, ok := Workloads[o.Kind()]
	return ok
}

// Containers of a workload object, init containers last.
func Containers(obj map[string]any) []map[string]any {
	kind, _ := obj["kind"].(string)
	spec, ok := Workloads[kind]
	if !ok {
		return nil
	}
	var out []map[string]any
	for _, f := range []string{"containers", "initContainers"} {
		l, _ := Get(obj, append(strings.Split(spec, "."), f)...).([]any)
		for _, c := range l {
			if m, ok := c.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// Container is the named container of a workload object, or nil.
func Container(obj map[string]any, name string) map[string]any {
	for _, c := range Containers(obj) {
		if c["name"] == name {
			return c
		}
	}
	return nil
}

// containerPath is where container name sits in a document of kind, in
// its containers or initContainers list.
func containerPath(d Doc, kind, name string) []yamledit.Step {
	spec := Workloads[kind]
	for _, f := range []string{"containers", "initContainers"} {
		p := At(spec, f, yamledit.Step{Field: "name", Equals: name})
		if yamledit.Find(d.Node, p) != nil {
			return p
		}
	}
	return nil
}

// SameObject reports whether document d describes the rendered object
// o: the same kind, and a name the render may have given a prefix or
// suffix.
func SameObject(d Doc, o render.Object) bool {
	if d.Map == nil || d.Kind() != o.Kind() || d.Name() == "" {
		return false
	}
	return d.Name() == o.Name() || strings.Contains(o.Name(), d.Name())
}

// WorkloadDocs are the documents of the files the workload's render read
// that describe it: its resource and the strategic-merge patches of it.
func WorkloadDocs(t *Target) []struct {
	File string
	Doc  Doc
} {
	var out []struct {
		File string
		Doc  Doc
	}
	for _, f := range t.Inputs() {
		for _, d := range t.Docs.Of(f) {
			if SameObject(d, t.Object) {
				out = append(out, struct {
					File string
					Doc  Doc
				}{f, d})
			}
		}
	}
	return out
}

// inOwnDir: file f is in the directory the workload's applier renders.
func inOwnDir(t *Target, f string) bool {
	src := strings.Trim(t.Applier().Source, "/")
	return src != "" && strings.HasPrefix(f, src+"/")
}

// workloadDoc sets a value in the workload's own resource or in a
// strategic-merge patch of it: a container's image or resources, the
// replicas; an autoscaler's bounds in the autoscaler's.
type workloadDoc struct{}

func (workloadDoc) Name() string { return "workload" }

func (workloadDoc) Edits(t *Target) []Edit {
	var out []Edit
	for _, wd := range WorkloadDocs(t) {
		f, d := wd.File, wd.Doc
		what := fmt.Sprintf("the %s %s in %s", d.Kind(), Code(d.Name()), Code(f))
		if f != t.Object.File {
			what = fmt.Sprintf("the patch of the %s %s in %s", d.Kind(), Code(d.Name()), Code(f))
		}
		var values map[string]any
		var base []yamledit.Step
		switch t.Ask.Field {
		case Image:
			if base = containerPath(d, t.Object.Kind(), t.Ask.Container); base == nil {
				continue
			}
			values = map[string]any{"image": t.Ask.Image.String()}
		case Resources:
			if base = containerPath(d, t.Object.Kind(), t.Ask.Container); base == nil {
				continue
			}
			base = At(base, "resources")
			values = map[string]any{}
			for k, v := range t.Ask.Resources {
				values[k] = v
			}
		case Replicas:
			base = At("spec")
			values = map[string]any{"replicas": t.Ask.Replicas}
		case Bounds:
			base = At("spec")
			values = map[string]any{}
			for k, v := range t.Ask.Bounds {
				values[k] = v
			}
		}
		content, adds, err := SetAll(t.Docs.Raw(f), d.Index, base, values)
		if err != nil {
			continue
		}
		layer := 0
		if f != t.Object.File || inOwnDir(t, f) {
			layer = 1
		}
		out = append(out, Edit{File: f, Content: content, Where: what, Adds: adds, Layer: layer})
	}
	return out
}
