package argocd

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gitops-bot/gitops-bot/providers/shape"
	"github.com/gitops-bot/gitops-bot/providers/yamledit"
)

func init() { shape.Register(generatorValue{}) }

// generatorValue is a value an ApplicationSet's generator hands its
// template: a list element's field, a git files generator's config file,
// carrying the tag, image or replica count the generated Application
// renders with. Each scalar that holds the value now is a candidate; the
// render tells which one is this Application's alone.
type generatorValue struct{}

func (generatorValue) Name() string { return "applicationset-generator" }

func (generatorValue) Edits(t *shape.Target) []shape.Edit {
	pairs := carried(t)
	if len(pairs) == 0 {
		return nil
	}
	var out []shape.Edit
	for _, a := range t.Chain {
		if a.Ref.Kind != "ApplicationSet" || a.Tool != "argocd" || a.File == "" {
			continue
		}
		files := []string{a.File}
		for _, in := range a.Inputs {
			if in != a.File && !strings.HasSuffix(in, "/") {
				files = append(files, in) // a git files generator's config
			}
		}
		for _, f := range files {
			for _, d := range t.Docs.Of(f) {
				root := d.Node
				var base []yamledit.Step
				if f == a.File {
					if d.Kind() != "ApplicationSet" || d.Name() != a.Ref.Name {
						continue
					}
					// The template's own literals are every Application's.
					base = shape.At("spec.generators")
					if root = yamledit.Find(d.Node, base); root == nil {
						continue
					}
				}
				scalars(root, base, func(p []yamledit.Step, n *yaml.Node) {
					for _, pr := range pairs {
						if n.Value != pr[0] {
							continue
						}
						content, err := yamledit.SetScalar(t.Docs.Raw(f), d.Index, p, pr[1])
						if err != nil {
							continue
						}
						what := fmt.Sprintf("the generator value %s of the ApplicationSet %s (%s)", shape.Code(pr[0]), shape.Code(a.Ref.Name), shape.Code(f))
						if f != a.File {
							what = fmt.Sprintf("the value %s in %s, a config file of the ApplicationSet %s", shape.Code(pr[0]), shape.Code(f), shape.Code(a.Ref.Name))
						}
						out = append(out, shape.Edit{File: f, Content: content, Layer: 4, Where: what})
					}
				})
			}
		}
	}
	return out
}

// carried are the (now, asked) pairs of scalars a generator may carry for
// the value asked: the whole image, or its tag alone.
func carried(t *shape.Target) [][2]string {
	switch t.Ask.Field {
	case shape.Image:
		old, want := t.Ask.Old, t.Ask.Image
		out := [][2]string{{old.String(), want.String()}}
		if old.Name == want.Name && old.Tag != "" && want.Tag != "" && old.Digest == want.Digest {
			out = append(out, [2]string{old.Tag, want.Tag})
		}
		return out
	case shape.Replicas:
		if n := shape.Get(t.Object.Obj, "spec", "replicas"); n != nil {
			return [][2]string{{fmt.Sprint(n), fmt.Sprint(t.Ask.Replicas)}}
		}
	case shape.Resources:
		var out [][2]string
		c := shape.Container(t.Object.Obj, t.Ask.Container)
		for k, v := range t.Ask.Resources {
			if cur := shape.Get(c, append([]string{"resources"}, strings.Split(k, ".")...)...); cur != nil {
				out = append(out, [2]string{fmt.Sprint(cur), v})
			}
		}
		return out
	}
	return nil
}

// scalars calls fn with each scalar under n and its path.
func scalars(n *yaml.Node, at []yamledit.Step, fn func([]yamledit.Step, *yaml.Node)) {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	step := func(s yamledit.Step) []yamledit.Step {
		return append(append([]yamledit.Step(nil), at...), s)
	}
	switch n.Kind {
	case yaml.ScalarNode:
		fn(at, n)
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			scalars(n.Content[i+1], step(yamledit.Step{Key: n.Content[i].Value}), fn)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			scalars(c, step(yamledit.Step{Item: i + 1}), fn)
		}
	}
}
