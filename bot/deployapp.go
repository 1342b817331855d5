package bot

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/distribution/reference"
	"k8s.io/apimachinery/pkg/util/validation"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/app"
	"github.com/gitops-bot/gitops-bot/providers/preflight"
)

const maxReplicas = 1000

// runApp is "/deploy APP --image ...": the repository's own application.
func (a *deployArgs) runApp(ctx context.Context, x *execution, name string) (string, error) {
	v := verbs["deploy"]
	bad := func(format string, args ...any) (string, error) {
		return "", &usageError{verb: v, msg: fmt.Sprintf(format, args...)}
	}
	image, err := parseImage(a.image)
	if err != nil {
		return bad("--image %q: %v", a.image, err)
	}
	switch {
	case a.port < 1 || a.port > 65535:
		return bad("--port is required, from 1 to 65535 (got %d)", a.port)
	case a.replicas < 0 || a.replicas > maxReplicas:
		return bad("--replicas must be from 0 to %d", maxReplicas)
	case a.format != providers.FormatKustomize && a.format != providers.FormatHelm:
		return bad("--format %q: want kustomize or helm", a.format)
	case a.chart != "" || a.version != "" || len(a.sets) > 0 || len(a.valueFiles) > 0:
		return bad("--version, --set and --values go with --chart")
	}
	if a.ingress != "" {
		if errs := validation.IsDNS1123Subdomain(a.ingress); len(errs) > 0 {
			return bad("--ingress %q is not a host name: %s", a.ingress, strings.Join(errs, "; "))
		}
	}
	if a.namespace == "" {
		a.namespace = name
	}
	if err := checkName("--namespace", a.namespace, 63); err != nil {
		return bad("%v", err)
	}
	envs, err := x.environments(a.envs)
	if err != nil {
		return bad("%v", err)
	}
	prov, err := x.provider(a.provider)
	if err != nil {
		return bad("%v", err)
	}
	if x.event.Repo.CloneURL == "" {
		return "", errors.New("this repository has no clone URL for Argo CD or Flux to fetch it from")
	}

	req, err := x.appRequest(name, image, a, envs)
	if err != nil {
		return "", err
	}
	taken := []string{req.Base, req.Chart}
	for _, e := range req.Envs {
		taken = append(taken, e.Overlay, e.Wiring)
	}
	if p, err := x.existing(ctx, taken...); err != nil {
		return "", err
	} else if p != "" {
		return fmt.Sprintf("%s: %s is already deployed here (%s exists), so I opened nothing. Change it with `/set-image %s IMAGE --env ENV` or `/scale %s N --env ENV`.",
			code(x.inv.Line), code(name), code(p), name, name), nil
	}
	if prov.Name() == "flux" {
		req.GitRepository = map[string]providers.Ref{}
		for _, e := range envs {
			src, err := x.existingSource(ctx, e, "GitRepository", func(u string) bool { return providers.SameRepo(u, x.event.Repo.CloneURL) })
			if err != nil {
				return "", err
			}
			if src != nil {
				req.GitRepository[e.Name] = *src
			}
		}
	}

	files, err := app.Files(req)
	if err != nil {
		return "", err
	}
	wiring, err := prov.WireApp(req)
	if err != nil {
		return "", err
	}
	edits, err := x.listInParentKustomizations(ctx, wiring)
	if err != nil {
		return "", err
	}
	manifests := append(append(files, wiring...), edits...)
	if err := x.preflight(ctx, req, manifests, wiring, edits); err != nil {
		return "", err
	}
	envNames := names(envs)
	what := "Kustomize base and overlays"
	if req.Format == providers.FormatHelm {
		what = "a Helm chart"
	}
	return x.propose(ctx, proposal{
		verb: "deploy", app: name, envs: envNames, provider: prov.Name(),
		title: fmt.Sprintf("Deploy %s %s to %s", name, image.Tag, strings.Join(envNames, ", ")),
		summary: fmt.Sprintf("Deploys %s (%s, port %d, %d replicas) into namespace %s as %s, with %s.",
			code(name), code(image.String()), a.port, a.replicas, code(a.namespace), what, providerTitle(prov.Name())),
		manifests: manifests,
		validated: true,
	})
}

// parseImage wants a tagged image reference.
func parseImage(s string) (providers.Image, error) {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return providers.Image{}, err
	}
	tagged, ok := named.(reference.Tagged)
	if !ok {
		return providers.Image{}, errors.New("pin a tag, as in ghcr.io/acme/web:1.4.2")
	}
	if _, digested := named.(reference.Digested); digested {
		return providers.Image{}, errors.New("give a tag without a digest")
	}
	return providers.Image{Name: reference.FamiliarName(named), Tag: tagged.Tag()}, nil
}

// appRequest fills the layout's paths for the app and its environments.
func (x *execution) appRequest(name string, image providers.Image, a *deployArgs, envs []Environment) (providers.AppRequest, error) {
	l := x.config.Layout
	req := providers.AppRequest{
		App: name, Namespace: a.namespace, Image: image, Port: int32(a.port), Replicas: int32(a.replicas),
		Host: a.ingress, Format: a.format,
		Repo: providers.GitSource{URL: x.event.Repo.CloneURL, Branch: x.event.Repo.DefaultBranch},
	}
	var err error
	if req.Base, err = l.Path(l.Base, name, ""); err != nil {
		return req, err
	}
	if req.Chart, err = l.Path(l.Chart, name, ""); err != nil {
		return req, err
	}
	if req.AppSet, err = l.Path(l.ApplicationSet, name, envs[0].Name); err != nil {
		return req, err
	}
	for _, e := range envs {
		ae := providers.AppEnvironment{Environment: e.ForProvider(x.providerName)}
		if ae.Overlay, err = l.Path(l.Overlay, name, e.Name); err != nil {
			return req, err
		}
		ae.Values = path.Join(req.Chart, "values-"+e.Name+".yaml")
		ae.Wiring = path.Join(e.Dir, name+".yaml")
		req.Envs = append(req.Envs, ae)
	}
	return req, nil
}

// listInParentKustomizations: a directory with a kustomization.yaml only
// applies what it lists, so a new wiring file is added to its resources,
// keeping the file's comments and order.
func (x *execution) listInParentKustomizations(ctx context.Context, wiring []providers.Manifest) ([]providers.Manifest, error) {
	var out []providers.Manifest
	for _, w := range wiring {
		kpath := path.Join(path.Dir(w.Path), "kustomization.yaml")
		if p, err := x.existing(ctx, kpath); err != nil || p == "" {
			if err != nil {
				return nil, err
			}
			continue
		}
		b, err := x.forge.ReadFile(ctx, x.event.Repo, x.event.Repo.DefaultBranch, kpath)
		if err != nil {
			return nil, err
		}
		edited, err := addResource(b, path.Base(w.Path))
		if err != nil {
			return nil, &preflight.Error{Problems: []preflight.Problem{{File: kpath, Err: err.Error()}}}
		}
		out = append(out, providers.Manifest{Path: kpath, Env: w.Env, Raw: edited})
	}
	return out, nil
}

func addResource(kustomization []byte, file string) ([]byte, error) {
	rn, err := kyaml.Parse(string(kustomization))
	if err != nil {
		return nil, fmt.Errorf("does not parse: %v", err)
	}
	list, err := rn.Pipe(kyaml.LookupCreate(kyaml.SequenceNode, "resources"))
	if err != nil {
		return nil, err
	}
	for _, n := range list.Content() {
		if n.Value == file {
			return kustomization, nil
		}
	}
	list.YNode().Content = append(list.YNode().Content, kyaml.NewStringRNode(file).YNode())
	s, err := rn.String()
	return []byte(s), err
}

// preflight builds and validates everything the change touches before a
// branch is written.
func (x *execution) preflight(ctx context.Context, req providers.AppRequest, manifests, wiring, edits []providers.Manifest) error {
	files, err := x.repoFiles(ctx)
	if err != nil {
		return err
	}
	changes, err := encode(manifests)
	if err != nil {
		return err
	}
	tree := preflight.NewTree(ctx, x.forge, x.event.Repo, x.event.Repo.DefaultBranch, files, changes)
	check := preflight.Request{Manifests: wiring}
	for _, e := range req.Envs {
		if req.Format == providers.FormatHelm {
			check.Charts = append(check.Charts, preflight.Chart{Dir: req.Chart, ValuesFiles: []string{e.Values}, Release: req.App, Namespace: req.Namespace})
		} else {
			check.Kustomizations = append(check.Kustomizations, e.Overlay)
		}
	}
	for _, e := range edits {
		check.Kustomizations = append(check.Kustomizations, path.Dir(e.Path))
	}
	return preflight.Check(ctx, tree, check)
}

// encode turns manifests into files, with the bot's header on generated objects.
func encode(ms []providers.Manifest) ([]forge.File, error) {
	out := make([]forge.File, 0, len(ms))
	for _, m := range ms {
		if m.Delete {
			out = append(out, forge.File{Path: m.Path, Delete: true})
			continue
		}
		if m.Raw != nil {
			out = append(out, forge.File{Path: m.Path, Content: m.Raw})
			continue
		}
		body, err := providers.Encode(m.Objects)
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %v", m.Path, err)
		}
		out = append(out, forge.File{Path: m.Path, Content: append([]byte(providers.Header), body...)})
	}
	return out, nil
}
