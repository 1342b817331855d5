package preview

import (
	"fmt"
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gitops-bot/gitops-bot/providers/shape"
	"github.com/gitops-bot/gitops-bot/render"
)

// images are the containers whose image changes, by workload.
func images(before, after map[string]entry) []ImageChange {
	var out []ImageChange
	for _, k := range sortedKeys(after) {
		a := after[k]
		b, ok := before[k]
		if !ok {
			continue
		}
		for _, c := range shape.Containers(a.obj) {
			n, _ := c["name"].(string)
			to, _ := c["image"].(string)
			from, _ := shape.Container(b.obj, n)["image"].(string)
			if from != "" && from != to {
				out = append(out, ImageChange{Workload: a.ref.Kind + " " + a.ref.Name, Container: n, From: from, To: to})
			}
		}
	}
	return out
}

// replicas a workload runs: its replicas (1 when unset); a DaemonSet counts
// one pod, its nodes being unknown here.
func replicas(obj map[string]any) int64 {
	switch render.Str(obj, "kind") {
	case "Deployment", "StatefulSet", "ReplicaSet", "Rollout":
		switch n := render.Get(obj, "spec", "replicas").(type) {
		case float64:
			return int64(n)
		case int64:
			return n
		case int:
			return int64(n)
		}
	}
	return 1
}

// total sums a resource over the workloads' containers times replicas.
func total(objs map[string]entry, group, name string) resource.Quantity {
	var sum resource.Quantity
	for _, e := range objs {
		if !isWorkload(e.obj) {
			continue
		}
		n := replicas(e.obj)
		for _, c := range containers(e.obj) {
			s, ok := render.Get(c, "resources", group, name).(string)
			if !ok {
				if f, isNum := render.Get(c, "resources", group, name).(float64); isNum {
					s, ok = fmt.Sprint(f), true
				}
			}
			if !ok {
				continue
			}
			q, err := resource.ParseQuantity(s)
			if err != nil {
				continue
			}
			q.Mul(n)
			sum.Add(q)
		}
	}
	return sum
}

func resourcesDelta(before, after map[string]entry) Resources {
	d := func(group, name string) Delta {
		b, a := total(before, group, name), total(after, group, name)
		return Delta{From: b.String(), To: a.String()}
	}
	return Resources{
		CPURequests: d("requests", "cpu"), MemoryRequests: d("requests", "memory"),
		CPULimits: d("limits", "cpu"), MemoryLimits: d("limits", "memory"),
	}
}

func isWorkload(obj map[string]any) bool {
	_, ok := shape.Workloads[render.Str(obj, "kind")]
	return ok
}

// containers are a workload's containers, not its init containers.
func containers(obj map[string]any) []map[string]any {
	spec := strings.Split(shape.Workloads[render.Str(obj, "kind")], ".")
	return render.Maps(render.Get(obj, append(spec, "containers")...))
}

// routine: the change only moves image tags or chart versions.
func routine(before, after map[string]entry, r *Report) bool {
	if len(r.Added)+len(r.Removed) > 0 || len(r.Changed) == 0 || len(r.failed) > 0 {
		return false
	}
	for _, c := range r.Changed {
		b, a := deepCopy(before[c.key].obj), deepCopy(after[c.key].obj)
		versionless(b)
		versionless(a)
		if !reflect.DeepEqual(a, b) {
			return false
		}
	}
	return true
}

// versionless drops what a routine bump changes: images' tags and
// digests, chart versions (a HelmRelease's, an Application's), and the
// labels charts stamp with them.
func versionless(obj map[string]any) {
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				switch k {
				case "image":
					if s, ok := e.(string); ok {
						t[k] = shape.ParseImg(s).Name
						continue
					}
				case "version", "targetRevision", "helm.sh/chart", "app.kubernetes.io/version", "tag", "newTag", "digest":
					t[k] = ""
					continue
				}
				walk(e)
			}
		case []any:
			for _, e := range t {
				walk(e)
			}
		}
	}
	walk(obj)
}
