package workload

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/yamledit"
)

// Argo CD applies an Application's kustomize overrides (spec.source.
// kustomize.images and .replicas) on top of the build of its path: a value
// an override sets is changed there, or the change would not take effect.

// argoOverride finds, among the environment's files, the Application that
// applies dir with an override at field (relative to spec.source.kustomize).
func (w *Repo) argoOverride(ctx context.Context, env config.Environment, dir string, field []yamledit.Step) (Target, bool, error) {
	roots, err := w.Roots(ctx, env.Dir)
	if err != nil {
		return Target{}, false, err
	}
	for _, r := range roots {
		files, err := w.Files.YAMLUnder(ctx, r)
		if err != nil {
			return Target{}, false, err
		}
		for _, f := range files {
			objs, err := w.Files.Objects(ctx, f)
			if err != nil {
				return Target{}, false, err
			}
			for _, o := range objs {
				if o.Kind != "Application" || group(o.APIVersion) != "argoproj.io" || path.Clean(strings.TrimPrefix(o.Path, "./")) != dir {
					continue
				}
				t := Target{Kind: InApplication, Name: o.Name, Path: f, Doc: o.Doc,
					Desc: fmt.Sprintf("the kustomize override of the Application %s in %s", md.Code(o.Name), md.Code(f))}
				// Argo CD's parameter override files in the app's directory
				// win over the Application (argocd-image-updater writes them).
				for _, name := range []string{".argocd-source-" + o.Name + ".yaml", ".argocd-source.yaml"} {
					file := path.Join(dir, name)
					if p, err := w.Files.Existing(ctx, file); err != nil {
						return Target{}, false, err
					} else if p == "" {
						continue
					}
					ov := Target{Kind: InApplication, Name: o.Name, Path: file, override: true,
						Desc: fmt.Sprintf("Argo CD's override file %s of the Application %s", md.Code(file), md.Code(o.Name))}
					d, err := w.doc(ctx, ov)
					if err != nil {
						return Target{}, false, err
					}
					if yamledit.Find(d, At("kustomize", field)) != nil {
						return ov, true, nil
					}
				}
				d, err := w.doc(ctx, t)
				if err != nil {
					return Target{}, false, err
				}
				if yamledit.Find(d, At("spec.source.kustomize", field)) != nil {
					return t, true, nil
				}
			}
		}
	}
	return Target{}, false, nil
}

// argoImage sets an image override of an Application ("name:tag", or
// "name=newName:tag" for an image from elsewhere).
func (w *Repo) argoImage(ctx context.Context, t Target, base string, image providers.Image, app, env string) (Change, error) {
	field := At(t.kustomizeRoot(), "images", yamledit.Step{Image: base})
	value := base + ":" + image.Tag
	if !sameImage(base, image.Name) {
		value = base + "=" + image.Name + ":" + image.Tag
	}
	c, err := w.change(ctx, t, "set-image", app, env, []edit{{doc: t.Doc, field: field, value: value}})
	if t.override {
		return c, err // an override file is no object: the edit is checked where it is
	}
	c.Expect = []Expect{{Kind: "Application", Name: t.Name, What: "the image override", Want: value, Get: func(o map[string]any) string {
		images, _ := lookup(o, At("spec.source.kustomize.images")).([]any)
		for _, i := range images {
			if s, ok := i.(string); ok && (s == base || strings.HasPrefix(s, base+":") || strings.HasPrefix(s, base+"=")) {
				return s
			}
		}
		return ""
	}}}
	return c, err
}

// kustomizeRoot is where a target keeps Argo CD's kustomize overrides.
func (t Target) kustomizeRoot() []yamledit.Step {
	if t.override {
		return At("kustomize")
	}
	return At("spec.source.kustomize")
}
