package snapshot

import (
	"context"
	"strings"

	"gopkg.in/yaml.v3"
	"k8s.io/utils/lru"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers/yamledit"
)

// Object is what the index keeps of one Kubernetes object of a file: enough
// to find an application, a source or an image without parsing the file
// again.
type Object struct {
	Doc        int // the document in a multi-document file
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
	// ReleaseName is a HelmRelease's spec.releaseName.
	ReleaseName string
	// URL is a source's spec.url; Chart an Application's spec.source.chart.
	URL, Chart string
	// Path is the directory an applier applies: a Flux Kustomization's
	// spec.path, an Argo CD Application's spec.source.path.
	Path string
	// Images are the containers' images of a workload.
	Images []string
}

// index caches the objects of a file by its blob SHA: a file's content
// never changes under its SHA, so the cache serves every command and
// every repository that holds the same file.
var index = lru.New(50000)

// Objects returns the objects of a YAML file, from the index when the
// reader knows the file's blob. A file that does not parse has none.
func (s *Snapshot) Objects(ctx context.Context, path string) ([]Object, error) {
	blob := s.blob(ctx, path)
	if blob != "" {
		if v, ok := index.Get(blob); ok {
			return v.([]Object), nil
		}
	}
	b, err := s.Read(ctx, path)
	if err != nil {
		return nil, err
	}
	objs := parseObjects(b)
	if blob != "" {
		index.Add(blob, objs)
	}
	return objs, nil
}

// blob is the SHA of a file's content, when the reader lists entries.
func (s *Snapshot) blob(ctx context.Context, path string) string {
	el, ok := s.Reader.(forge.EntryLister)
	if !ok {
		return ""
	}
	dir := parent(path)
	s.mu.Lock()
	blobs, ok := s.blobs[dir]
	s.mu.Unlock()
	if !ok {
		entries, err := el.ListEntries(ctx, s.Repo, s.Ref, dir)
		if err != nil {
			return ""
		}
		blobs = make(map[string]string, len(entries))
		for _, e := range entries {
			blobs[e.Path] = e.Blob
		}
		s.mu.Lock()
		s.blobs[dir] = blobs
		s.mu.Unlock()
	}
	return blobs[path]
}

func parseObjects(b []byte) []Object {
	docs, err := yamledit.Docs(b)
	if err != nil {
		return nil
	}
	var out []Object
	for i, d := range docs {
		o := Object{Doc: i, APIVersion: str(d, "apiVersion"), Kind: str(d, "kind"), Name: str(d, "metadata", "name"),
			Namespace: str(d, "metadata", "namespace"), ReleaseName: str(d, "spec", "releaseName"),
			URL: str(d, "spec", "url"), Chart: str(d, "spec", "source", "chart"), Path: str(d, "spec", "path")}
		if o.Path == "" {
			o.Path = str(d, "spec", "source", "path")
		}
		if o.Kind == "" {
			continue
		}
		o.Images = images(d)
		out = append(out, o)
	}
	return out
}

func str(d *yaml.Node, keys ...string) string {
	steps := make([]yamledit.Step, len(keys))
	for i, k := range keys {
		steps[i] = yamledit.Step{Key: k}
	}
	if n := yamledit.Find(d, steps); n != nil && n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

// images collects every "image:" scalar of a document (containers of a
// workload, values of a chart).
func images(n *yaml.Node) []string {
	var out []string
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if k.Value == "image" && v.Kind == yaml.ScalarNode && strings.TrimSpace(v.Value) != "" {
					out = append(out, v.Value)
				}
				walk(v)
			}
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return out
}
