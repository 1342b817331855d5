// Package kustfile reads and edits kustomization files as people write
// them: under any of the three names kustomize accepts, with edits that
// keep every byte outside the line they add.
package kustfile

import (
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
