package verbs

import (
	"context"
	"fmt"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/gitops-bot/gitops-bot/bot/command"
	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/bot/workload"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/app"
	"github.com/gitops-bot/gitops-bot/providers/preflight"
)

// runApp is "/deploy APP --image ...": the repository's own application.
func (a *deploy) runApp(ctx context.Context, req *command.Request, name string) (command.Result, error) {
	image, err := parseImage(a.image)
	if err != nil {
		return command.Result{}, errs.Usage("--image %q: %v", a.image, err)
	}
	switch {
	case a.port < 1 || a.port > 65535:
		return command.Result{}, errs.Usage("--port is required, from 1 to 65535 (got %d)", a.port)
	case a.replicas < 0 || a.replicas > workload.MaxReplicas:
		return command.Result{}, errs.Usage("--replicas must be from 0 to %d", workload.MaxReplicas)
	case a.format != providers.FormatKustomize && a.format != providers.FormatHelm:
		return command.Result{}, errs.Usage("--format %q: want kustomize or helm", a.format)
	case a.chart != "" || a.version != "" || len(a.sets) > 0 || len(a.valueFiles) > 0:
		return command.Result{}, errs.Usage("--version, --set and --values go with --chart")
	}
	if a.ingress != "" {
		if problems := validation.IsDNS1123Subdomain(a.ingress); len(problems) > 0 {
			return command.Result{}, errs.Usage("--ingress %q is not a host name: %s", a.ingress, strings.Join(problems, "; "))
		}
	}
	envs, prov, err := a.target(ctx, req, name)
	if err != nil {
		return command.Result{}, err
	}
	for _, e := range envs {
		if err := req.Workloads().CheckTarget(ctx, e); err != nil {
			return command.Result{}, err
		}
	}
	if req.Repo.CloneURL == "" {
		return command.Result{}, errs.Invalid("this repository has no clone URL for Argo CD or Flux to fetch it from")
	}

	ar, err := a.appRequest(req.Config.Layout, prov.Name(), name, image, envs, req)
	if err != nil {
		return command.Result{}, errs.Invalid("%v", err)
	}
	taken := []string{ar.Base, ar.Chart}
	for _, e := range ar.Envs {
		taken = append(taken, e.Overlay, e.Wiring)
	}
	if p, err := req.Files.Existing(ctx, taken...); err != nil {
		return command.Result{}, err
	} else if p != "" {
		return command.Result{}, errs.Refused("%s is already deployed here (%s exists), so I opened nothing. Change it with `/set-image %s IMAGE --env ENV` or `/scale %s N --env ENV`.",
			md.Code(name), md.Code(p), name, name)
	}
	if prov.Name() == "flux" {
		ar.GitRepository = map[string]providers.Ref{}
		for _, e := range envs {
			src, err := req.Files.FluxSource(ctx, e.Dir, e.Flux.Namespace, "GitRepository", func(u string) bool { return providers.SameRepo(u, req.Repo.CloneURL) })
			if err != nil {
				return command.Result{}, err
			}
			if src != nil {
				ar.GitRepository[e.Name] = *src
			}
		}
	}

	files, err := app.Files(ar)
	if err != nil {
		return command.Result{}, errs.Bug(err)
	}
	wiring, err := prov.WireApp(ar)
	if err != nil {
		return command.Result{}, errs.Bug(err)
	}
	wiring, generated, err := dropGenerated(ctx, req, prov.Name(), ar, wiring)
	if err != nil {
		return command.Result{}, err
	}
	edits, _, err := listInParents(ctx, req, wiring)
	if err != nil {
		return command.Result{}, err
	}
	manifests := append(append(files, wiring...), edits...)
	if err := checkApp(ctx, req, ar, manifests, wiring, edits); err != nil {
		return command.Result{}, err
	}
	envNames := names(envs)
	what := "Kustomize base and overlays"
	if ar.Format == providers.FormatHelm {
		what = "a Helm chart"
	}
	return req.Propose(ctx, command.Proposal{
		Verb: "deploy", App: name, Envs: envNames, Provider: prov.Name(),
		Title: fmt.Sprintf("Deploy %s %s to %s", name, image.Tag, strings.Join(envNames, ", ")),
		Summary: fmt.Sprintf("Deploys %s (%s, port %d, %d replicas) into %s as %s, with %s.%s",
			md.Code(name), md.Code(image.String()), a.port, a.replicas, namespaces(ar), what, providerTitle(prov.Name()), generated),
		Manifests: manifests,
		Validated: true,
	})
}

// namespaces says where the application runs: one namespace, or one per
// environment where environments share a cluster.
func namespaces(ar providers.AppRequest) string {
	var each []string
	for _, e := range ar.Envs {
		if ar.RunsIn(e) != ar.Namespace {
			each = append(each, fmt.Sprintf("%s in %s", md.Code(ar.RunsIn(e)), e.Name))
		}
	}
	if len(each) == 0 {
		return "namespace " + md.Code(ar.Namespace)
	}
	return "namespaces " + strings.Join(each, ", ") + " (the environments share a cluster)"
}

// appRequest fills the layout's paths for the app and its environments.
func (a *deploy) appRequest(l config.Layout, provider, name string, image providers.Image, envs []config.Environment, req *command.Request) (providers.AppRequest, error) {
	ar := providers.AppRequest{
		App: name, Namespace: a.namespace, Image: image, Port: int32(a.port), Replicas: int32(a.replicas),
		Host: a.ingress, Format: a.format,
		Repo: providers.GitSource{URL: req.Repo.CloneURL, Branch: req.Repo.DefaultBranch},
	}
	var err error
	if ar.Base, err = l.Path(l.Base, name, ""); err != nil {
		return ar, err
	}
	if ar.Chart, err = l.Path(l.Chart, name, ""); err != nil {
		return ar, err
	}
	if ar.AppSet, err = l.Path(l.ApplicationSet, name, envs[0].Name); err != nil {
		return ar, err
	}
	for _, e := range envs {
		ae := providers.AppEnvironment{Environment: e.ForProvider(provider)}
		if ae.Overlay, err = l.Path(l.Overlay, name, e.Name); err != nil {
			return ar, err
		}
		ae.Values = path.Join(ar.Chart, "values-"+e.Name+".yaml")
		ae.Wiring = path.Join(e.Dir, name+".yaml")
		if ae.AppNamespace, err = runsIn(req, provider, a.namespace, e, envs); err != nil {
			return ar, err
		}
		ar.Envs = append(ar.Envs, ae)
	}
	return ar, nil
}

// dropGenerated leaves out the Application of an environment whose overlay
// an ApplicationSet of the repository already generates one for: a second
// one would own the same workload. It returns what it left out, for the
// pull request.
func dropGenerated(ctx context.Context, req *command.Request, provider string, ar providers.AppRequest, wiring []providers.Manifest) ([]providers.Manifest, string, error) {
	if provider != "argocd" || ar.Format != providers.FormatKustomize {
		return wiring, "", nil
	}
	skip := map[string]bool{}
	var notes []string
	for _, e := range ar.Envs {
		set, file, err := req.Workloads().GeneratedBy(ctx, e.Overlay)
		if err != nil {
			return nil, "", err
		}
		if set != "" {
			skip[e.Name] = true
			notes = append(notes, fmt.Sprintf(" The ApplicationSet %s (%s) generates the Application of %s from its overlay, so none is added.", md.Code(set), md.Code(file), md.Code(e.Name)))
		}
	}
	var out []providers.Manifest
	for _, m := range wiring {
		if !skip[m.Env] {
			out = append(out, m)
		}
	}
	return out, strings.Join(notes, ""), nil
}

// checkApp builds and validates everything the change touches before a
// branch is written.
func checkApp(ctx context.Context, req *command.Request, ar providers.AppRequest, manifests, wiring, edits []providers.Manifest) error {
	changes, err := command.Encode(manifests)
	if err != nil {
		return errs.Bug(err)
	}
	tree := preflight.NewLazyTree(ctx, req.Files, changes)
	check := preflight.Request{Manifests: wiring}
	for _, e := range ar.Envs {
		if ar.Format == providers.FormatHelm {
			check.Charts = append(check.Charts, preflight.Chart{Dir: ar.Chart, ValuesFiles: []string{e.Values}, Release: ar.App, Namespace: ar.RunsIn(e)})
		} else {
			check.Kustomizations = append(check.Kustomizations, e.Overlay)
		}
	}
	for _, e := range edits {
		check.Kustomizations = append(check.Kustomizations, path.Dir(e.Path))
	}
	return preflight.Check(ctx, tree, check)
}
