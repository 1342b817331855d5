package shape

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/gitops-bot/gitops-bot/providers/yamledit"
)

func init() { Register(jsonPatch{}) }

// jsonPatch is an operation of a JSON 6902 patch file that sets the
// replicas, an autoscaler's bound, or a container's image (by its index
// in the pod template).
type jsonPatch struct{}

func (jsonPatch) Name() string { return "json6902" }

var containerOp = regexp.MustCompile(`^/spec/(?:jobTemplate/spec/)?template/spec/containers/(\d+)/image$`)

func (jsonPatch) Edits(t *Target) []Edit {
	if t.Ask.Field == Resources {
		return nil
	}
	var out []Edit
	for _, f := range t.Inputs() {
		for _, d := range t.Docs.Of(f) {
			for i, e := range d.List {
				op, _ := e.(map[string]any)
				p, _ := op["path"].(string)
				if op["op"] != "replace" && op["op"] != "add" {
					continue
				}
				var value any
				switch t.Ask.Field {
				case Replicas:
					if p != "/spec/replicas" {
						continue
					}
					value = t.Ask.Replicas
				case Bounds:
					v, ok := t.Ask.Bounds[strings.TrimPrefix(p, "/spec/")]
					if !ok {
						continue
					}
					value = v
				case Image:
					m := containerOp.FindStringSubmatch(p)
					if m == nil {
						continue
					}
					n, _ := strconv.Atoi(m[1])
					cs := Containers(t.Object.Obj)
					if n >= len(cs) || cs[n]["name"] != t.Ask.Container {
						continue
					}
					value = t.Ask.Image.String()
				}
				content, err := yamledit.Set(t.Docs.Raw(f), d.Index, []yamledit.Step{{Item: i + 1}, {Key: "value"}}, value)
				if err != nil {
					continue
				}
				out = append(out, Edit{File: f, Content: content, Layer: 1, Where: fmt.Sprintf("the JSON patch %s in %s", Code(p), Code(f))})
			}
		}
	}
	return out
}
