// Package model is the render model as the bot uses it: the renderer with
// the tools this project knows, and the environments of a repository's
// configuration as render specs.
package model

import (
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/providers/argocd"
	"github.com/gitops-bot/gitops-bot/providers/flux"
	"github.com/gitops-bot/gitops-bot/render"
)

// Tools are the GitOps tools the model renders.
func Tools() []render.Tool { return []render.Tool{flux.Renderer{}, argocd.Renderer{}} }

// New returns a renderer for a repository cloned from repoURL ("" when
// unknown); charts nil renders no chart kept outside the repository.
func New(repoURL string, charts render.Charts) *render.Renderer {
	return render.New(render.Options{Tools: Tools(), RepoURL: repoURL, Charts: charts})
}

// Specs are the environments a configuration names, or, without a list,
// one per directory under clusters/ (the default layout).
func Specs(cfg *config.Config, files []string) []render.Spec {
	var out []render.Spec
	if cfg.ListsEnvironments() {
		for _, e := range cfg.Environments {
			out = append(out, render.Spec{Name: e.Name, Dir: e.Dir, Tool: cfg.Provider})
		}
		return out
	}
	seen := map[string]bool{}
	for _, f := range files {
		rest, ok := strings.CutPrefix(f, "clusters/")
		if !ok {
			continue
		}
		name, _, nested := strings.Cut(rest, "/")
		if !nested || seen[name] {
			continue
		}
		seen[name] = true
		out = append(out, render.Spec{Name: name, Dir: "clusters/" + name, Tool: cfg.Provider})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// PathSpec renders a directory as an environment named after it, by the
// tool whose appliers it holds (Argo CD when a file holds an Application
// or an ApplicationSet).
func PathSpec(dir string, files map[string][]byte) render.Spec {
	tool := "flux"
	for _, c := range files {
		if argoApplier.Match(c) {
			tool = "argocd"
			break
		}
	}
	name := path.Base(strings.Trim(dir, "/"))
	if name == "." || name == "" {
		name = "root"
	}
	return render.Spec{Name: name, Dir: strings.Trim(dir, "/"), Tool: tool}
}

var argoApplier = regexp.MustCompile(`(?m)^kind:\s*(Application|ApplicationSet)\s*$`)
