// Package kustfile reads and edits kustomization files as people write
// them: under any of the three names kustomize accepts, with edits that
// keep every byte outside the line they add.
package kustfile

import (
	"fmt"
	"path"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gitops-bot/gitops-bot/providers/yamledit"
)

// Names are the file names kustomize reads, in the order it tries them.
var Names = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// In returns the paths a kustomization of dir may have.
func In(dir string) []string {
	out := make([]string, len(Names))
	for i, n := range Names {
		out[i] = path.Join(dir, n)
	}
	return out
}

// Is reports whether p is a kustomization file.
func Is(p string) bool {
	base := path.Base(p)
	for _, n := range Names {
		if base == n {
			return true
		}
	}
	return false
}

// File is what the bot reads of a kustomization.
type File struct {
	Resources []string `yaml:"resources"`
	Bases     []string `yaml:"bases"`
	// Patches of every kind that name a file.
	Patches []struct {
		Path string `yaml:"path"`
	} `yaml:"patches"`
	PatchesStrategicMerge []string `yaml:"patchesStrategicMerge"`
	PatchesJSON6902       []struct {
		Path string `yaml:"path"`
	} `yaml:"patchesJson6902"`
}

// Parse reads a kustomization; a file that does not parse reads empty.
func Parse(src []byte) File {
	var f File
	yaml.Unmarshal(src, &f)
	return f
}

// PatchFiles are the files the kustomization applies as patches, as
// repository paths relative to dir.
func (f File) PatchFiles(dir string) []string {
	var out []string
	add := func(p string) {
		if p != "" && !strings.Contains(p, "\n") {
			out = append(out, path.Clean(path.Join(dir, p)))
		}
	}
	for _, p := range f.Patches {
		add(p.Path)
	}
	for _, p := range f.PatchesStrategicMerge {
		add(p)
	}
	for _, p := range f.PatchesJSON6902 {
		add(p.Path)
	}
	return out
}

// AddResource lists file in the kustomization's resources, keeping every
// other byte; a file already listed leaves it as it is.
func AddResource(src []byte, file string) ([]byte, error) {
	for _, r := range Parse(src).Resources {
		if path.Clean(r) == path.Clean(file) {
			return src, nil
		}
	}
	return yamledit.Append(src, 0, []yamledit.Step{{Key: "resources"}}, file)
}

// NarrowPatches gives each patch whose target selects a kind alone, one
// of kinds, the name of the one object it patches today (names: the
// objects of the kustomization's build, by kind), so that objects added
// beside it are not patched too. It returns the edited kustomization and
// a note per patch narrowed.
func NarrowPatches(src []byte, kinds map[string]bool, names map[string][]string) ([]byte, []string, error) {
	var k struct {
		Patches []struct {
			Path   string         `yaml:"path"`
			Target map[string]any `yaml:"target"`
		} `yaml:"patches"`
	}
	if err := yaml.Unmarshal(src, &k); err != nil {
		return nil, nil, err
	}
	out := src
	var notes []string
	for i, p := range k.Patches {
		kind, _ := p.Target["kind"].(string)
		if !kinds[kind] || len(p.Target) != 1 && !(len(p.Target) == 2 && p.Target["group"] != nil) && !(len(p.Target) == 3 && p.Target["group"] != nil && p.Target["version"] != nil) {
			continue
		}
		if len(names[kind]) != 1 {
			continue
		}
		next, err := yamledit.Insert(out, 0, []yamledit.Step{{Key: "patches"}, {Item: i + 1}, {Key: "target"}}, "name", names[kind][0])
		if err != nil {
			return nil, nil, err
		}
		out = next
		what := p.Path
		if what == "" {
			what = "an inline patch"
		}
		notes = append(notes, fmt.Sprintf("%s targets every %s; it patches only %s today, so its target now names it", what, kind, names[kind][0]))
	}
	return out, notes, nil
}
