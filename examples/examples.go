// Package examples ships example fleet repositories, one per provider, that
// `gitops-bot local --example NAME` starts from and the tests run against.
package examples

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// URL is where the example fleets say they live: their Flux GitRepository
// and Argo CD Applications fetch it.
const URL = "https://github.com/acme/fleet"

//go:embed all:flux-fleet all:argocd-fleet
var fleets embed.FS

// Names lists the examples ("argocd", "flux").
func Names() []string {
	entries, _ := fs.ReadDir(fleets, ".")
	var out []string
	for _, e := range entries {
		out = append(out, e.Name()[:len(e.Name())-len("-fleet")])
	}
	sort.Strings(out)
	return out
}

// Fleet returns the files of one example repository.
func Fleet(name string) (fs.FS, error) {
	sub, err := fs.Sub(fleets, name+"-fleet")
	if err != nil {
		return nil, err
	}
	if _, err := fs.Stat(sub, ".gitops-bot.yaml"); err != nil {
		return nil, fmt.Errorf("no example %q (have %v)", name, Names())
	}
	return sub, nil
}

// Files returns the files of one example repository (path -> content),
// fetched from url instead of the address they name (URL): what a test
// serves for real controllers to clone.
func Files(name, url string) (map[string]string, error) {
	fleet, err := Fleet(name)
	if err != nil {
		return nil, err
	}
	files := map[string]string{}
	err = fs.WalkDir(fleet, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fleet, p)
		files[p] = strings.ReplaceAll(string(b), URL, url)
		return err
	})
	return files, err
}
