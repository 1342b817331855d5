package bot

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/yamledit"
)

func init() {
	register(&verb{
		name: "promote", args: "APP", needsAuth: true,
		summary: "copy an application's versions (image tags, chart version) from one environment to another",
		bind: func() (*pflag.FlagSet, runFunc) {
			fs := pflag.NewFlagSet("promote", pflag.ContinueOnError)
			from := fs.String("from", "", "environment to copy from (required)")
			to := fs.String("to", "", "environment to change (required)")
			return fs, func(ctx context.Context, x *execution, args []string) (string, error) {
				return runPromote(ctx, x, args, *from, *to)
			}
		},
	})
}

// version is one versioned field of a target, e.g. an image tag.
type version struct {
	label string // for the pull request: "image ghcr.io/acme/web"
	field []yamledit.Step
	value string
}

// versions reads the versions a target pins.
func (x *execution) versions(ctx context.Context, t target) ([]version, error) {
	src, err := x.forge.ReadFile(ctx, x.event.Repo, x.event.Repo.DefaultBranch, t.path)
	if err != nil {
		return nil, err
	}
	docs, err := yamledit.Docs(src)
	if err != nil || t.doc >= len(docs) {
		return nil, fmt.Errorf("%s does not parse: %v", code(t.path), err)
	}
	d := docs[t.doc]
	var out []version
	add := func(label string, field []yamledit.Step) {
		if v := scalar(d, field); v != "" {
			out = append(out, version{label: label, field: field, value: v})
		}
	}
	switch t.kind {
	case inOverlay:
		if imgs := yamledit.Find(d, at("images")); imgs != nil && imgs.Kind == yaml.SequenceNode {
			for _, item := range imgs.Content {
				var img struct {
					Name   string `yaml:"name"`
					NewTag string `yaml:"newTag"`
				}
				if item.Decode(&img) == nil && img.Name != "" && img.NewTag != "" {
					out = append(out, version{label: "image " + img.Name, field: at("images", where{"name", img.Name}, "newTag"), value: img.NewTag})
				}
			}
		}
	case inValues:
		add("image tag", at("image.tag"))
	case inHelmRelease:
		add("chart version", at("spec.chart.spec.version"))
		add("image tag", at("spec.values.image.tag"))
	case inApplication:
		add("chart version", at("spec.source.targetRevision"))
		add("image tag", at("spec.source.helm.valuesObject.image.tag"))
	case inDeployment:
		add("image", at(container(scalar(d, at("metadata.name"))), "image"))
	}
	return out, nil
}

func runPromote(ctx context.Context, x *execution, args []string, fromName, toName string) (string, error) {
	v := verbs["promote"]
	if err := v.positional(args, 1, 1); err != nil {
		return "", err
	}
	app := args[0]
	if fromName == "" || toName == "" || fromName == toName {
		return "", &usageError{verb: v, msg: "--from and --to are required and must differ"}
	}
	from, err := x.day2Env(v, app, fromName)
	if err != nil {
		return "", err
	}
	to, err := x.day2Env(v, app, toName)
	if err != nil {
		return "", err
	}
	src, err := x.locate(ctx, app, from)
	if err != nil {
		return "", err
	}
	dst, err := x.locate(ctx, app, to)
	if err != nil {
		return "", err
	}
	if src.kind != dst.kind {
		return "", fmt.Errorf("%s is %s in %s but %s in %s: promote it by hand", code(app), src.desc, code(from.Name), dst.desc, code(to.Name))
	}
	have, err := x.versions(ctx, src)
	if err != nil {
		return "", err
	}
	want, err := x.versions(ctx, dst)
	if err != nil {
		return "", err
	}
	current := map[string]string{}
	for _, w := range want {
		current[describe(w.field)] = w.value
	}
	var edits []edit
	var lines []string
	for _, h := range have {
		old, ok := current[describe(h.field)]
		if !ok || old == h.value {
			continue // nothing to copy, or a version the target does not pin
		}
		edits = append(edits, edit{path: dst.path, doc: dst.doc, field: h.field, value: h.value})
		lines = append(lines, fmt.Sprintf("- %s: %s → %s", h.label, code(old), code(h.value)))
	}
	if len(edits) == 0 {
		return fmt.Sprintf("%s: nothing to promote: %s pins the same versions in %s and %s.", code(x.inv.Line), code(app), code(from.Name), code(to.Name)), nil
	}
	m, err := x.change(ctx, dst.path, to.Name, edits)
	if err != nil {
		return "", err
	}
	var overlays []string
	if dst.kind == inOverlay {
		overlays = []string{pathDir(dst.path)}
	}
	return x.proposeEdits(ctx, "promote", app, []string{to.Name},
		fmt.Sprintf("Promote %s from %s to %s", app, from.Name, to.Name),
		fmt.Sprintf("Copies the versions of %s from %s to %s, in %s:\n\n%s", code(app), code(from.Name), code(to.Name), dst.desc, strings.Join(lines, "\n")),
		[]providers.Manifest{m}, overlays)
}
