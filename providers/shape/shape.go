// Package shape holds the YAML shapes that can set a value of a workload:
// a kustomization's images: entry, a patch, the workload's own container,
// a chart's values file, and, in providers/flux and providers/argocd, the
// tools' own (a postBuild variable, a HelmRelease's values, an
// Application's overrides). Each shape reads the files the workload's
// render read and proposes edits; it does not judge them. The engine
// (bot/workload) renders each edit and keeps one that gives the workload
// the value asked and changes nothing else. A new shape is one file that
// registers itself.
package shape

import (
	"bytes"
	"fmt"
	"path"
	"sort"
	"strings"
	gosync "sync"

	"gopkg.in/yaml.v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/providers/yamledit"
	"github.com/gitops-bot/gitops-bot/render"
)

// Field is what a command changes.
type Field string

const (
	Image     Field = "image"
	Replicas  Field = "replicas"
	Resources Field = "resources"
	// Bounds are an autoscaler's minimum and maximum replicas; the target
	// is the autoscaler (an HPA, a KEDA ScaledObject), not the workload.
	Bounds Field = "bounds"
)

// Img is a container image: name (registry and repository), tag, digest.
type Img struct{ Name, Tag, Digest string }

func (i Img) String() string {
	s := i.Name
	if i.Tag != "" {
		s += ":" + i.Tag
	}
	if i.Digest != "" {
		s += "@" + i.Digest
	}
	return s
}

// ParseImg splits "name[:tag][@digest]".
func ParseImg(s string) Img {
	var i Img
	if at := strings.Index(s, "@"); at >= 0 {
		i.Digest, s = s[at+1:], s[:at]
	}
	if c := strings.LastIndex(s, ":"); c > strings.LastIndex(s, "/") {
		i.Tag, s = s[c+1:], s[:c]
	}
	i.Name = s
	return i
}

// Ask is the value a command asks for.
type Ask struct {
	Field     Field
	Container string // the container whose image or resources change
	Image     Img    // the image asked
	Old       Img    // the container's image as rendered now
	Replicas  int
	// Resources are the values asked, by "requests.cpu", "limits.memory".
	Resources map[string]string
	// Bounds are the autoscaler's spec fields asked ("minReplicas": 2).
	Bounds map[string]int
}

// Edit is one way to make the change: a file's new content.
type Edit struct {
	File    string
	Content []byte
	Where   string // for replies: "the `images:` entry of `apps/staging/kustomization.yaml`"
	Adds    bool   // adds the value rather than changing one already there
	// Layer ranks edits that pass alike: the higher, the closer to the
	// environment (an overlay over its base, a later values file over an
	// earlier one, an Application's override over its source).
	Layer int
	Shape string
	// Also are more files the edit writes (a new patch and the
	// kustomization that lists it).
	Also []File
}

// File is a file's new content.
type File struct {
	Path    string
	Content []byte
}

// Target is the workload as the shapes see it.
type Target struct {
	Env    *render.Env
	Object render.Object
	Chain  []*render.Applier // root first; the last applies the object
	Tree   *render.Tree
	Docs   *Docs
	Ask    Ask
}

// Inputs are the files the workload's render read, the appliers' own
// definitions included.
func (t *Target) Inputs() []string {
	set := map[string]bool{}
	if t.Object.File != "" {
		set[t.Object.File] = true
	}
	for _, a := range t.Chain {
		for _, p := range a.Inputs {
			if !strings.HasSuffix(p, "/") {
				set[p] = true
			}
		}
		if a.File != "" {
			set[a.File] = true
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Applier is the applier that applies the workload.
func (t *Target) Applier() *render.Applier { return t.Chain[len(t.Chain)-1] }

// Shape proposes edits of one YAML shape.
type Shape interface {
	Name() string
	Edits(t *Target) []Edit
}

var (
	mu       gosync.Mutex
	registry []Shape
)

// Register adds a shape; shapes registered first are preferred when
// several edits pass alike.
func Register(s Shape) {
	mu.Lock()
	defer mu.Unlock()
	registry = append(registry, s)
}

// All are the registered shapes.
func All() []Shape {
	mu.Lock()
	defer mu.Unlock()
	return append([]Shape(nil), registry...)
}

// Doc is one parsed document of a file.
type Doc struct {
	Index int
	Node  *yaml.Node
	Map   map[string]any
	List  []any // a document that is a list (a JSON 6902 patch)
}

func (d Doc) Kind() string { s, _ := d.Map["kind"].(string); return s }
func (d Doc) Name() string { return Str(d.Map, "metadata", "name") }

// Docs parses each file once per command.
type Docs struct {
	tree *render.Tree
	mu   gosync.Mutex
	seen map[string][]Doc
	raw  map[string][]byte
}

// NewDocs reads files of tree.
func NewDocs(t *render.Tree) *Docs {
	return &Docs{tree: t, seen: map[string][]Doc{}, raw: map[string][]byte{}}
}

// Parsed counts the files parsed so far.
func (d *Docs) Parsed() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seen)
}

// Raw is a file's content.
func (d *Docs) Raw(p string) []byte {
	d.Of(p)
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.raw[p]
}

// Of returns the documents of a YAML file (none when it does not parse).
func (d *Docs) Of(p string) []Doc {
	d.mu.Lock()
	defer d.mu.Unlock()
	if docs, ok := d.seen[p]; ok {
		return docs
	}
	var out []Doc
	if ext := path.Ext(p); ext == ".yaml" || ext == ".yml" || ext == ".json" || path.Base(p) == "Kustomization" {
		if c, err := d.tree.Read(p); err == nil {
			d.raw[p] = c
			nodes, err := yamledit.Docs(c)
			if err == nil {
				for i, n := range nodes {
					doc := Doc{Index: i, Node: n}
					var buf bytes.Buffer
					enc := yaml.NewEncoder(&buf)
					if enc.Encode(n) == nil {
						var v any
						if sigsyaml.Unmarshal(buf.Bytes(), &v) == nil {
							doc.Map, _ = v.(map[string]any)
							doc.List, _ = v.([]any)
						}
					}
					out = append(out, doc)
				}
			}
		}
	}
	d.seen[p] = out
	return out
}

// Str and Get read a field of a document or an object (render's readers).
var (
	Str = render.Str
	Get = render.Get
)

// Keys turns "a.b.c" into path steps.
func Keys(dotted string) []yamledit.Step {
	var out []yamledit.Step
	for _, k := range strings.Split(dotted, ".") {
		out = append(out, yamledit.Step{Key: k})
	}
	return out
}

// At joins path parts: strings (dotted keys), steps and step lists.
func At(parts ...any) []yamledit.Step {
	var out []yamledit.Step
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			out = append(out, Keys(v)...)
		case yamledit.Step:
			out = append(out, v)
		case []yamledit.Step:
			out = append(out, v...)
		}
	}
	return out
}

// SetAll sets each value (by dotted key under base) in document doc.
func SetAll(src []byte, doc int, base []yamledit.Step, values map[string]any) ([]byte, bool, error) {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := src
	adds := false
	root, err := yamledit.Docs(src)
	if err != nil || doc >= len(root) {
		return nil, false, fmt.Errorf("document %d does not parse", doc)
	}
	for _, k := range keys {
		p := At(base, k)
		if yamledit.Find(root[doc], p) == nil {
			adds = true
		}
		if values[k] == nil {
			next, err := yamledit.Delete(out, doc, p)
			if err == nil {
				out = next
			}
			continue
		}
		next, err := yamledit.Set(out, doc, p, values[k])
		if err != nil {
			return nil, false, fmt.Errorf("%s: %v", k, err)
		}
		out = next
	}
	return out, adds, nil
}

// Code quotes text for a reply.
func Code(s string) string { return "`" + s + "`" }
