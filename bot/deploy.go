package bot

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/spf13/pflag"
	"helm.sh/helm/v3/pkg/strvals"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/schema"
)

// maxReleaseName is Helm's limit on release names.
const maxReleaseName = 53

type deployArgs struct {
	chart, version, provider, namespace string
	envs, sets, valueFiles              []string
	// The repository's own application.
	image, ingress, format string
	port, replicas         int
}

func init() {
	register(&verb{
		name:      "deploy",
		args:      "APP",
		summary:   "deploy a Helm chart to one or more environments through a pull request",
		needsAuth: true,
		bind: func() (*pflag.FlagSet, runFunc) {
			a := &deployArgs{}
			fs := pflag.NewFlagSet("deploy", pflag.ContinueOnError)
			fs.StringVar(&a.chart, "chart", "", "third-party chart: URL ending in the chart name, https://REPO/NAME or oci://REGISTRY/PATH/NAME")
			fs.StringVar(&a.version, "version", "", "with --chart: chart version or semver range")
			fs.StringVar(&a.image, "image", "", "own application: container image with a tag, e.g. ghcr.io/acme/web:1.4.2")
			fs.IntVar(&a.port, "port", 0, "with --image: the port the container listens on")
			fs.IntVar(&a.replicas, "replicas", 1, "with --image: replicas in each environment")
			fs.StringVar(&a.ingress, "ingress", "", "with --image: host name of an Ingress to the application")
			fs.StringVar(&a.format, "format", "kustomize", "with --image: kustomize (base and overlays) or helm (a chart in this repository)")
			fs.StringArrayVar(&a.envs, "env", nil, "environment to deploy to; repeat for several (required)")
			fs.StringArrayVar(&a.sets, "set", nil, "Helm value KEY=VALUE, as helm --set; repeatable")
			fs.StringArrayVar(&a.valueFiles, "values", nil, "values file in this repository, merged before --set; repeatable")
			fs.StringVar(&a.provider, "provider", "", "argocd or flux (default: the repository config's)")
			fs.StringVar(&a.namespace, "namespace", "", "namespace the release runs in (default: APP)")
			return fs, func(ctx context.Context, x *execution, args []string) (string, error) {
				return a.run(ctx, x, args)
			}
		},
	})
}

func (a *deployArgs) run(ctx context.Context, x *execution, args []string) (string, error) {
	v := verbs["deploy"]
	if err := v.positional(args, 1, 1); err != nil {
		return "", err
	}
	app := args[0]
	if err := checkName("APP", app, maxReleaseName); err != nil {
		return "", &usageError{verb: v, msg: err.Error()}
	}
	switch {
	case a.chart != "" && a.image != "":
		return "", &usageError{verb: v, msg: "give --chart (a third-party chart) or --image (this repository's application), not both"}
	case a.image != "":
		return a.runApp(ctx, x, app)
	case a.chart == "":
		return "", &usageError{verb: v, msg: "--chart or --image is required"}
	}
	if a.port != 0 || a.replicas != 1 || a.ingress != "" || a.format != providers.FormatKustomize {
		return "", &usageError{verb: v, msg: "--port, --replicas, --ingress and --format go with --image"}
	}
	chart, err := providers.ParseChart(a.chart, a.version)
	if err != nil {
		return "", &usageError{verb: v, msg: err.Error()}
	}
	if err := checkVersion(a.version); err != nil {
		return "", &usageError{verb: v, msg: err.Error()}
	}
	if a.namespace == "" {
		a.namespace = app
	}
	if err := checkName("--namespace", a.namespace, 63); err != nil {
		return "", &usageError{verb: v, msg: err.Error()}
	}
	envs, err := x.environments(a.envs)
	if err != nil {
		return "", &usageError{verb: v, msg: err.Error()}
	}
	prov, err := x.provider(a.provider)
	if err != nil {
		return "", &usageError{verb: v, msg: err.Error()}
	}
	values, err := a.values(ctx, x)
	if err != nil {
		return "", &usageError{verb: v, msg: err.Error()}
	}

	var manifests []providers.Manifest
	for _, e := range envs {
		src, err := x.existingHelmRepository(ctx, e, chart.RepoURL)
		if err != nil {
			return "", err
		}
		ms, err := prov.GenerateChart(providers.ChartRequest{
			App: app, Namespace: a.namespace, Env: e.ForProvider(prov.Name()), Chart: chart, Values: values, Source: src,
		})
		if err != nil {
			return "", err
		}
		manifests = append(manifests, ms...)
	}
	envNames := names(envs)
	p := proposal{
		verb:     "deploy",
		app:      app,
		envs:     envNames,
		provider: prov.Name(),
		title:    fmt.Sprintf("Deploy %s %s (chart %s) to %s", app, chart.Version, chart.Name, strings.Join(envNames, ", ")),
		summary: fmt.Sprintf("Deploys the Helm chart %s version %s as %s into namespace %s with %s.",
			code(chart.RepoURL+"/"+chart.Name), code(chart.Version), code(app), code(a.namespace), providerTitle(prov.Name())),
		manifests: manifests,
	}
	return x.propose(ctx, p)
}

// values merges the values files (in order) and then the --set values, as
// helm install does.
func (a *deployArgs) values(ctx context.Context, x *execution) (map[string]any, error) {
	out := map[string]any{}
	for _, vf := range a.valueFiles {
		p, err := forge.CleanPath(vf)
		if err != nil {
			return nil, fmt.Errorf("--values: %v", err)
		}
		b, err := x.forge.ReadFile(ctx, x.event.Repo, x.event.Repo.DefaultBranch, p)
		if errors.Is(err, forge.ErrNotFound) {
			return nil, fmt.Errorf("--values %s: no such file on %s", p, x.event.Repo.DefaultBranch)
		}
		if err != nil {
			return nil, fmt.Errorf("--values %s: %v", p, err)
		}
		m := map[string]any{}
		if err := yaml.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("--values %s: not a YAML map: %v", p, err)
		}
		mergeValues(out, m)
	}
	for _, s := range a.sets {
		if err := strvals.ParseInto(s, out); err != nil {
			return nil, fmt.Errorf("--set %s: %v", s, err)
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

// environments resolves --env flags, in the order given, without repeats.
func (x *execution) environments(flags []string) ([]Environment, error) {
	if len(flags) == 0 {
		return nil, fmt.Errorf("--env is required")
	}
	seen := map[string]bool{}
	var out []Environment
	for _, name := range flags {
		if seen[name] {
			continue
		}
		seen[name] = true
		e, err := x.config.Environment(name)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func (x *execution) provider(flag string) (providers.Provider, error) {
	name := x.config.Provider
	if flag != "" {
		name = flag
	}
	p, ok := x.bot.Providers[name]
	if !ok {
		return nil, fmt.Errorf("--provider %q: want argocd or flux", name)
	}
	x.providerName = name
	return p, nil
}

func checkName(what, s string, max int) error {
	if errs := validation.IsDNS1123Label(s); len(errs) > 0 {
		return fmt.Errorf("%s %q: %s", what, s, strings.Join(errs, "; "))
	}
	if len(s) > max {
		return fmt.Errorf("%s %q: at most %d characters", what, s, max)
	}
	return nil
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

func names(envs []Environment) []string {
	out := make([]string, len(envs))
	for i, e := range envs {
		out[i] = e.Name
	}
	return out
}

func providerTitle(p string) string {
	if p == "argocd" {
		return "Argo CD"
	}
	return "Flux"
}

// validate checks every generated object against its schema.
func validate(ctx context.Context, ms []providers.Manifest) error {
	var errs []string
	for _, m := range ms {
		for _, o := range m.Objects {
			known, err := schema.ValidateAny(ctx, o)
			if !known {
				err = fmt.Errorf("no schema for %s %s", o.Ref().APIVersion, o.Ref().Kind)
			}
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", m.Path, err))
			}
		}
	}
	sort.Strings(errs)
	if len(errs) > 0 {
		return fmt.Errorf("generated objects do not validate:\n%s", strings.Join(errs, "\n"))
	}
	return nil
}
