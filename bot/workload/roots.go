package workload

import (
	"context"
	"path"
	"strings"
)

// maxRootDepth bounds how far the bot follows appliers from an
// environment's directory (cluster directory -> apps -> app).
const maxRootDepth = 3

// Roots are the directories of this repository an environment applies: its
// own directory, and the directories its Flux Kustomizations and Argo CD
// Applications apply, followed a few levels (a cluster directory whose
// apps.yaml applies ./apps/staging, one ks.yaml per application). Flux
// Kustomizations of an ExternalArtifact that an ArtifactGenerator copies
// from this repository are followed through the generator's copy rules.
func (w *Repo) Roots(ctx context.Context, dir string) ([]string, error) {
	seen := map[string]bool{dir: true}
	out := []string{dir}
	next := []string{dir}
	for depth := 0; depth < maxRootDepth && len(next) > 0; depth++ {
		var found []string
		for _, d := range next {
			dirs, err := w.applied(ctx, d)
			if err != nil {
				return nil, err
			}
			for _, a := range dirs {
				if !seen[a] && !under(a, out) {
					seen[a] = true
					found = append(found, a)
				}
			}
		}
		out = append(out, found...)
		next = found
	}
	return out, nil
}

// under reports whether dir is inside one of roots (its files are read already).
func under(dir string, roots []string) bool {
	for _, r := range roots {
		if r == "" || dir == r || strings.HasPrefix(dir, r+"/") {
			return true
		}
	}
	return false
}

// applied lists the directories the appliers in dir apply.
func (w *Repo) applied(ctx context.Context, dir string) ([]string, error) {
	files, err := w.Files.YAMLUnder(ctx, dir)
	if err != nil {
		return nil, err
	}
	type ks struct {
		path, sourceKind, sourceName string
	}
	var appliers []ks
	copies := map[string][]copyRule{} // artifact name -> its copy rules
	for _, f := range files {
		objs, err := w.Files.Objects(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			switch {
			case o.Kind == "Kustomization" && group(o.APIVersion) == "kustomize.toolkit.fluxcd.io",
				o.Kind == "Application" && group(o.APIVersion) == "argoproj.io":
				if o.Path == "" {
					continue
				}
				a := ks{path: o.Path}
				if o.Kind == "Kustomization" {
					a.sourceKind, a.sourceName = w.sourceRef(ctx, f, o.Doc)
				}
				appliers = append(appliers, a)
			case o.Kind == "ArtifactGenerator":
				for name, rules := range w.artifactCopies(ctx, f, o.Doc) {
					copies[name] = append(copies[name], rules...)
				}
			}
		}
	}
	var out []string
	for _, a := range appliers {
		p := path.Clean(strings.TrimPrefix(a.path, "./"))
		if a.sourceKind == "ExternalArtifact" {
			mapped, ok := mapArtifactPath(copies[a.sourceName], p)
			if !ok {
				continue // an artifact from elsewhere
			}
			p = mapped
		}
		if p == "." || strings.HasPrefix(p, "..") {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

func (w *Repo) sourceRef(ctx context.Context, file string, doc int) (kind, name string) {
	d, err := w.doc(ctx, Target{Path: file, Doc: doc})
	if err != nil {
		return "", ""
	}
	return scalar(d, At("spec.sourceRef.kind")), scalar(d, At("spec.sourceRef.name"))
}

// copyRule is one "copy" of an ArtifactGenerator: from this repository's
// path prefix to the artifact's.
type copyRule struct{ from, to string }

func (w *Repo) artifactCopies(ctx context.Context, file string, doc int) map[string][]copyRule {
	d, err := w.doc(ctx, Target{Path: file, Doc: doc})
	if err != nil {
		return nil
	}
	var gen struct {
		Spec struct {
			Artifacts []struct {
				Name string `yaml:"name"`
				Copy []struct {
					From string `yaml:"from"`
					To   string `yaml:"to"`
				} `yaml:"copy"`
			} `yaml:"artifacts"`
		} `yaml:"spec"`
	}
	if d.Decode(&gen) != nil {
		return nil
	}
	out := map[string][]copyRule{}
	for _, a := range gen.Spec.Artifacts {
		for _, c := range a.Copy {
			from := strings.TrimSuffix(strings.TrimSuffix(dropAlias(c.From), "**"), "/")
			to := strings.TrimSuffix(strings.TrimPrefix(c.To, "@artifact/"), "/")
			if from != "" {
				out[a.Name] = append(out[a.Name], copyRule{from: from, to: to})
			}
		}
	}
	return out
}

// dropAlias turns "@monorepo/apps/staging/**" into "apps/staging/**".
func dropAlias(p string) string {
	if strings.HasPrefix(p, "@") {
		if _, rest, ok := strings.Cut(p, "/"); ok {
			return rest
		}
		return ""
	}
	return p
}

// mapArtifactPath maps a path of an artifact back to this repository.
func mapArtifactPath(rules []copyRule, p string) (string, bool) {
	for _, r := range rules {
		switch {
		case p == r.to:
			return r.from, true
		case r.to == "" || strings.HasPrefix(p, r.to+"/"):
			return path.Join(r.from, strings.TrimPrefix(strings.TrimPrefix(p, r.to), "/")), true
		}
	}
	return "", false
}
