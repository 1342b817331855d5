package verbs

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/spf13/pflag"
	"helm.sh/helm/v3/pkg/strvals"
	"sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/bot/command"
	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/chartrender"
	"github.com/gitops-bot/gitops-bot/providers/kustfile"
	"github.com/gitops-bot/gitops-bot/providers/preflight"
)

// maxReleaseName is Helm's limit on release names.
const maxReleaseName = 53

func init() { command.Register(func() command.Verb { return &deploy{} }) }

// deploy is "/deploy APP --chart ..." (a third-party chart, this file) and
// "/deploy APP --image ..." (the repository's own application, deploy_app.go).
type deploy struct {
	chart, version, provider, namespace string
	envs, sets, valueFiles              []string
	// The repository's own application.
	image, ingress, format string
	port, replicas         int
}

func (*deploy) Spec() command.Spec {
	return command.Spec{Name: "deploy", Args: "APP", Changes: true, Plannable: true,
		Summary: "deploy an application (your image, or a Helm chart) to one or more environments through a pull request",
		Description: "With --image, writes the application of your container image as a Kustomize base and an overlay per environment (or, with --format helm, a chart in this repository) and the Argo CD Application or Flux Kustomization that applies it. " +
			"With --chart, writes a Flux HelmRelease (or an Argo CD Application) of a third-party chart. The environments are built before the pull request is opened; an application that is already deployed is refused.",
		Examples: []string{
			"/deploy web --image ghcr.io/acme/web:1.4.2 --port 8080 --env staging --env production",
			"/deploy podinfo --chart https://stefanprodan.github.io/podinfo/podinfo --version 6.7.0 --env staging --set replicaCount=2",
			"/deploy redis --chart oci://registry-1.docker.io/bitnamicharts/redis --version 20.x --env staging --values values/redis.yaml",
		}}
}

func (a *deploy) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&a.chart, "chart", "", "third-party chart: a `URL` ending in the chart name, https://REPO/NAME or oci://REGISTRY/PATH/NAME")
	fs.StringVar(&a.version, "version", "", "with --chart: chart version or semver range")
	fs.StringVar(&a.image, "image", "", "own application: container `IMAGE:TAG`, e.g. ghcr.io/acme/web:1.4.2")
	fs.IntVar(&a.port, "port", 0, "with --image: the port the container listens on")
	fs.IntVar(&a.replicas, "replicas", 1, "with --image: `N` replicas in each environment")
	fs.StringVar(&a.ingress, "ingress", "", "with --image: `HOST` name of an Ingress to the application")
	fs.StringVar(&a.format, "format", "kustomize", "with --image: kustomize (base and overlays) or helm (a chart in this repository)")
	fs.StringArrayVar(&a.envs, "env", nil, "`ENV` to deploy to; repeat for several (required)")
	fs.StringArrayVar(&a.sets, "set", nil, "Helm value `KEY=VALUE`, as helm --set; repeatable")
	fs.StringArrayVar(&a.valueFiles, "values", nil, "values `FILE` in this repository, merged before --set; repeatable")
	fs.StringVar(&a.provider, "provider", "", "argocd or flux (default: the repository config's)")
	fs.StringVar(&a.namespace, "namespace", "", "namespace the release runs in (default: APP)")
}

func (a *deploy) Run(ctx context.Context, req *command.Request) (command.Result, error) {
	if err := command.Positional(a, req.Args, 1, 1); err != nil {
		return command.Result{}, err
	}
	app := req.Args[0]
	if err := checkName("APP", app, maxReleaseName); err != nil {
		return command.Result{}, errs.Usage("%v", err)
	}
	switch {
	case a.chart != "" && a.image != "":
		return command.Result{}, errs.Usage("give --chart (a third-party chart) or --image (this repository's application), not both")
	case a.image != "":
		return a.runApp(ctx, req, app)
	case a.chart == "":
		return command.Result{}, errs.Usage("--chart or --image is required")
	}
	if a.port != 0 || a.replicas != 1 || a.ingress != "" || a.format != providers.FormatKustomize {
		return command.Result{}, errs.Usage("--port, --replicas, --ingress and --format go with --image")
	}
	chart, err := providers.ParseChart(a.chart, a.version)
	if err != nil {
		return command.Result{}, errs.Usage("%v", err)
	}
	if err := checkVersion(a.version); err != nil {
		return command.Result{}, errs.Usage("%v", err)
	}
	envs, prov, err := a.target(ctx, req, app)
	if err != nil {
		return command.Result{}, err
	}
	for _, e := range envs {
		if err := req.Workloads().CheckTarget(ctx, e); err != nil {
			return command.Result{}, err
		}
	}
	values, err := a.values(ctx, req)
	if err != nil {
		return command.Result{}, err
	}
	checked, err := lookUp(ctx, req, chart)
	if err != nil {
		return command.Result{}, err
	}

	var manifests []providers.Manifest
	where := map[string]bool{}
	for _, e := range envs {
		src, err := helmRepository(ctx, req, prov.Name(), e, chart.RepoURL)
		if err != nil {
			return command.Result{}, err
		}
		ns, err := runsIn(req, prov.Name(), a.namespace, e, envs)
		if err != nil {
			return command.Result{}, err
		}
		where[ns] = true
		ms, err := prov.GenerateChart(providers.ChartRequest{
			App: app, Namespace: ns, Env: e.ForProvider(prov.Name()), Chart: chart, Values: values, Source: src,
		})
		if err != nil {
			return command.Result{}, err
		}
		for i, m := range ms {
			if v, ok := prov.(providers.Versioned); ok {
				have, err := req.Workloads().APIVersions(ctx, e.Dir)
				if err != nil {
					return command.Result{}, err
				}
				if ms[i].Objects, err = v.InVersions(m.Objects, have); err != nil {
					return command.Result{}, err
				}
				m = ms[i]
			}
			if err := req.Workloads().CheckAPIVersions(ctx, e.Dir, m.Objects); err != nil {
				return command.Result{}, err
			}
		}
		manifests = append(manifests, ms...)
	}
	// A directory with a kustomization applies only what it lists.
	listed, notes, err := listInParents(ctx, req, manifests)
	if err != nil {
		return command.Result{}, err
	}
	var builtNS map[string]string
	if len(listed) > 0 {
		if builtNS, err = validateWithParents(ctx, req, manifests, listed); err != nil {
			return command.Result{}, err
		}
	}
	manifests = append(manifests, listed...)
	envNames := names(envs)
	return req.Propose(ctx, command.Proposal{
		Verb:     "deploy",
		App:      app,
		Envs:     envNames,
		Provider: prov.Name(),
		Title:    fmt.Sprintf("Deploy %s %s (chart %s) to %s", app, chart.Version, chart.Name, strings.Join(envNames, ", ")),
		Summary: fmt.Sprintf("Deploys the Helm chart %s version %s as %s into namespace %s with %s.",
			md.Code(chart.RepoURL+"/"+chart.Name), md.Code(chart.Version), md.Code(app), namespaceList(where), providerTitle(prov.Name())) + " " + checked + notesText(notes),
		Checked:   checked,
		Manifests: manifests,
		Built:     builtNS,
	})
}

// chartResolver looks a chart's version up in its repository or
// registry (providers/chartrender).
type chartResolver interface {
	Resolve(ctx context.Context, repoURL, name, version string) (string, error)
}

// lookUp asks the chart's source which version the release would install
// today, before anything is opened: a chart or version the source does not
// have is refused; a source that cannot be asked is said, not hidden.
func lookUp(ctx context.Context, req *command.Request, chart providers.Chart) (string, error) {
	where := "the repository's index"
	if chart.OCI() {
		where = "the registry's tags"
	}
	r, ok := req.Charts.(chartResolver)
	if !ok {
		return "The chart was not looked up (this bot fetches no charts), so its version is not checked.", nil
	}
	got, err := r.Resolve(ctx, chart.RepoURL, chart.Name, chart.Version)
	switch {
	case errors.Is(err, chartrender.ErrNoChart):
		return "", errs.Invalid("%s. Nothing was opened.", errs.Message(err))
	case err != nil:
		return fmt.Sprintf("The chart could not be looked up in %s (%s), so its version is not checked.", where, errs.Message(err)), nil
	case got == chart.Version:
		return fmt.Sprintf("Looked up: %s %s is in %s.", md.Code(chart.Name), md.Code(got), where), nil
	}
	return fmt.Sprintf("Looked up: %s %s is %s in %s today.", md.Code(chart.Name), md.Code(chart.Version), md.Code(got), where), nil
}

func namespaceList(set map[string]bool) string {
	var out []string
	for ns := range set {
		out = append(out, md.Code(ns))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// runsIn is the namespace an application runs in, in environment e: ns,
// or ns-ENV for Argo CD environments that share a cluster with another,
// so that two Applications never own the same objects.
func runsIn(req *command.Request, provider, ns string, e config.Environment, envs []config.Environment) (string, error) {
	if provider != "argocd" || !req.Config.SharesCluster(e, envs) {
		return ns, nil
	}
	own := ns + "-" + e.Name
	if err := checkName("the namespace", own, 63); err != nil {
		return "", errs.Usage("%s shares its cluster with another environment, so it gets a namespace of its own (%s), which is too long; give a shorter --namespace", md.Code(e.Name), md.Code(own))
	}
	return own, nil
}

// target checks the flags both kinds of deploy share: the namespace (APP
// by default), the environments and the provider.
func (a *deploy) target(ctx context.Context, req *command.Request, app string) ([]config.Environment, providers.Provider, error) {
	if a.namespace == "" {
		a.namespace = app
	}
	if err := checkName("--namespace", a.namespace, 63); err != nil {
		return nil, nil, errs.Usage("%v", err)
	}
	envs, err := req.Environments(ctx, a.envs)
	if err != nil {
		return nil, nil, errs.Usage("%v", err)
	}
	prov, err := req.Provider(ctx, a.provider, envs)
	if err != nil {
		return nil, nil, errs.Usage("%v", err)
	}
	return envs, prov, nil
}

// listInParents: a directory with a kustomization (under any of the names
// kustomize reads) applies only what it lists, so a new file is added to
// its resources, keeping every other byte of it.
func listInParents(ctx context.Context, req *command.Request, ms []providers.Manifest) ([]providers.Manifest, []string, error) {
	var out []providers.Manifest
	var notes []string
	for _, m := range ms {
		kpath, err := req.Files.Existing(ctx, kustfile.In(path.Dir(m.Path))...)
		if err != nil {
			return nil, nil, err
		}
		if kpath == "" {
			continue
		}
		b, err := req.Files.Read(ctx, kpath)
		if err != nil {
			return nil, nil, err
		}
		edited, err := kustfile.AddResource(b, path.Base(m.Path))
		if err != nil {
			return nil, nil, &preflight.Error{Problems: []preflight.Problem{{File: kpath, Err: err.Error()}}}
		}
		edited, narrowed := narrowPatches(ctx, req, path.Dir(kpath), edited, m.Objects)
		for _, n := range narrowed {
			notes = append(notes, fmt.Sprintf("In %s, %s.", md.Code(kpath), n))
		}
		out = append(out, providers.Manifest{Path: kpath, Env: m.Env, Raw: edited})
	}
	return out, notes, nil
}

// narrowPatches: a patch of the directory that targets a kind alone
// would patch the new objects too (a release's values, its chart
// version). When it patches one object today, its target gets that
// object's name; the build of the directory is unchanged by it.
func narrowPatches(ctx context.Context, req *command.Request, dir string, kust []byte, objs []providers.Object) ([]byte, []string) {
	kinds := map[string]bool{}
	for _, o := range objs {
		kinds[o.Ref().Kind] = true
	}
	built, err := preflight.Build(preflight.NewLazyTree(ctx, req.Files, nil), dir)
	if err != nil {
		return kust, nil // a build that fails is reported by the checks
	}
	names := map[string][]string{}
	for _, o := range built {
		r := providers.Object(o).Ref()
		if kinds[r.Kind] {
			names[r.Kind] = append(names[r.Kind], r.Name)
		}
	}
	out, notes, err := kustfile.NarrowPatches(kust, kinds, names)
	if err != nil {
		return kust, nil
	}
	return out, notes
}

// validateWithParents checks the generated objects and builds every
// kustomization that now lists them: the new file must be in the build of
// its directory, which is what the environment's applier applies. It
// returns the namespaces the build gives the new objects.
func validateWithParents(ctx context.Context, req *command.Request, ms, parents []providers.Manifest) (map[string]string, error) {
	changes, err := command.Encode(append(append([]providers.Manifest{}, ms...), parents...))
	if err != nil {
		return nil, errs.Bug(err)
	}
	namespaces := map[string]string{}
	tree := preflight.NewLazyTree(ctx, req.Files, changes)
	check := preflight.Request{Manifests: ms}
	for _, p := range parents {
		check.Kustomizations = append(check.Kustomizations, path.Dir(p.Path))
	}
	if err := preflight.Check(ctx, tree, check); err != nil {
		return nil, err
	}
	for _, p := range parents {
		built, err := preflight.Build(tree, path.Dir(p.Path))
		if err != nil {
			return nil, errs.Invalid("%v", err)
		}
		for _, m := range ms {
			if m.Env != p.Env {
				continue
			}
			for _, o := range m.Objects {
				b := inBuild(built, o.Ref())
				if b == nil {
					return nil, errs.Invalid("%s %s would not be applied: it is not in the build of %s", o.Ref().Kind, md.Code(o.Ref().Name), md.Code(path.Dir(p.Path)))
				}
				// What the directory's patches do to the new object counts too.
				want, got := chartVersion(o), chartVersion(b)
				if want != got {
					return nil, errs.Invalid("the build of %s changes the chart version of %s %s from %s to %s (a patch of the directory applies to it), so the release would not run what was asked",
						md.Code(path.Dir(p.Path)), o.Ref().Kind, md.Code(o.Ref().Name), md.Code(want), md.Code(got))
				}
				namespaces[o.Ref().Kind+"/"+o.Ref().Name] = providers.Object(b).Ref().Namespace
			}
		}
	}
	return namespaces, nil
}

// inBuild returns the object of ref's kind and name in a build, or nil.
func inBuild(built []map[string]any, ref providers.Ref) map[string]any {
	for _, b := range built {
		r := providers.Object(b).Ref()
		if r.Kind == ref.Kind && r.Name == ref.Name {
			return b
		}
	}
	return nil
}

// chartVersion is a HelmRelease's spec.chart.spec.version ("" otherwise).
func chartVersion(o map[string]any) string {
	spec, _ := o["spec"].(map[string]any)
	chart, _ := spec["chart"].(map[string]any)
	cs, _ := chart["spec"].(map[string]any)
	v, _ := cs["version"].(string)
	return v
}

// values merges the values files (in order) and then the --set values, as
// helm install does. A file that is missing or not a map is the user's
// mistake; a host that cannot be read is not.
func (a *deploy) values(ctx context.Context, req *command.Request) (map[string]any, error) {
	out := map[string]any{}
	for _, vf := range a.valueFiles {
		p, err := forge.CleanPath(vf)
		if err != nil {
			return nil, errs.Usage("--values: %v", err)
		}
		b, err := req.Files.Read(ctx, p)
		if errors.Is(err, forge.ErrNotFound) {
			return nil, errs.Usage("--values %s: no such file on %s", p, req.Repo.DefaultBranch)
		}
		if err != nil {
			return nil, fmt.Errorf("reading --values %s: %w", p, err)
		}
		m := map[string]any{}
		if err := yaml.Unmarshal(b, &m); err != nil {
			return nil, errs.Usage("--values %s: not a YAML map: %v", p, err)
		}
		mergeValues(out, m)
	}
	for _, s := range a.sets {
		if err := strvals.ParseInto(s, out); err != nil {
			return nil, errs.Usage("--set %s: %v", s, err)
		}
	}
	return out, nil
}

// mergeValues merges src into dst, maps recursively and everything else by
// replacement: Helm's rule for several values files.
func mergeValues(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeValues(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// helmRepository: a HelmRepository of the chart's URL already in the
// environment's directory, for Flux to reuse.
func helmRepository(ctx context.Context, req *command.Request, provider string, e config.Environment, url string) (*providers.Ref, error) {
	if provider != "flux" || strings.HasPrefix(url, "oci://") {
		return nil, nil
	}
	return req.Files.FluxSource(ctx, e.Dir, e.Flux.Namespace, "HelmRepository", func(u string) bool {
		return strings.TrimSuffix(u, "/") == strings.TrimSuffix(url, "/")
	})
}

func checkVersion(v string) error {
	if _, err := semver.NewVersion(v); err == nil {
		return nil
	}
	if _, err := semver.NewConstraint(v); err != nil {
		return fmt.Errorf("--version %q is neither a version nor a semver range", v)
	}
	return nil
}

func providerTitle(p string) string {
	if p == "argocd" {
		return "Argo CD"
	}
	return "Flux"
}

func notesText(notes []string) string {
	if len(notes) == 0 {
		return ""
	}
	return "\n\n" + strings.Join(notes, "\n")
}
