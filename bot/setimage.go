package bot

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/yamledit"
)

func init() {
	register(&verb{
		name: "set-image", args: "APP IMAGE:TAG", needsAuth: true,
		summary: "change an application's image in one environment",
		bind: func() (*pflag.FlagSet, runFunc) {
			fs := pflag.NewFlagSet("set-image", pflag.ContinueOnError)
			env := fs.String("env", "", "environment (required)")
			return fs, func(ctx context.Context, x *execution, args []string) (string, error) {
				return runSetImage(ctx, x, args, *env)
			}
		},
	})
	register(&verb{
		name: "scale", args: "APP REPLICAS", needsAuth: true,
		summary: "change an application's replicas in one environment",
		bind: func() (*pflag.FlagSet, runFunc) {
			fs := pflag.NewFlagSet("scale", pflag.ContinueOnError)
			env := fs.String("env", "", "environment (required)")
			return fs, func(ctx context.Context, x *execution, args []string) (string, error) {
				return runScale(ctx, x, args, *env)
			}
		},
	})
	register(&verb{
		name: "resources", args: "APP", needsAuth: true,
		summary: "change an application's CPU request and memory request and limit in one environment",
		bind: func() (*pflag.FlagSet, runFunc) {
			fs := pflag.NewFlagSet("resources", pflag.ContinueOnError)
			env := fs.String("env", "", "environment (required)")
			cpu := fs.String("cpu", "", "CPU request, e.g. 500m")
			mem := fs.String("memory", "", "memory request and limit, e.g. 512Mi")
			return fs, func(ctx context.Context, x *execution, args []string) (string, error) {
				return runResources(ctx, x, args, *env, *cpu, *mem)
			}
		},
	})
}

// day2Env checks APP and --env and finds the environment.
func (x *execution) day2Env(v *verb, app, env string) (Environment, error) {
	if err := checkName("APP", app, 253); err != nil {
		return Environment{}, &usageError{verb: v, msg: err.Error()}
	}
	if env == "" {
		return Environment{}, &usageError{verb: v, msg: "--env is required"}
	}
	e, err := x.config.Environment(env)
	if err != nil {
		return Environment{}, &usageError{verb: v, msg: err.Error()}
	}
	return e, nil
}

func runSetImage(ctx context.Context, x *execution, args []string, envName string) (string, error) {
	v := verbs["set-image"]
	if err := v.positional(args, 2, 2); err != nil {
		return "", err
	}
	app := args[0]
	image, err := parseImage(args[1])
	if err != nil {
		return "", &usageError{verb: v, msg: fmt.Sprintf("IMAGE %q: %v", args[1], err)}
	}
	env, err := x.day2Env(v, app, envName)
	if err != nil {
		return "", err
	}
	t, err := x.locate(ctx, app, env)
	if err != nil {
		return "", err
	}
	var edits []edit
	var overlays []string
	switch t.kind {
	case inOverlay:
		src, err := x.forge.ReadFile(ctx, x.event.Repo, x.event.Repo.DefaultBranch, t.path)
		if err != nil {
			return "", err
		}
		docs, err := yamledit.Docs(src)
		if err != nil || len(docs) == 0 {
			return "", fmt.Errorf("%s does not parse: %v", code(t.path), err)
		}
		if yamledit.Find(docs[0], at("images", where{"name", image.Name})) == nil {
			return "", fmt.Errorf("%s has no `images:` entry for %s; I only change the image an overlay already sets", code(t.path), code(image.Name))
		}
		edits = []edit{{path: t.path, field: at("images", where{"name", image.Name}, "newTag"), value: image.Tag}}
		overlays = []string{pathDir(t.path)}
	case inValues:
		edits = []edit{{path: t.path, field: at("image.tag"), value: image.Tag}}
	case inHelmRelease, inApplication:
		edits = []edit{{path: t.path, doc: t.doc, field: at(valuesRoot(t.kind), "image.tag"), value: image.Tag}}
	case inDeployment:
		edits = []edit{{path: t.path, doc: t.doc, field: at(container(app), "image"), value: image.String()}}
	}
	m, err := x.change(ctx, t.path, env.Name, edits)
	if err != nil {
		return "", err
	}
	return x.proposeEdits(ctx, "set-image", app, []string{env.Name},
		fmt.Sprintf("Set %s image to %s in %s", app, image.String(), env.Name),
		fmt.Sprintf("Sets the image of %s in %s to %s, in %s.", code(app), code(env.Name), code(image.String()), t.desc),
		[]providers.Manifest{m}, overlays)
}

func runScale(ctx context.Context, x *execution, args []string, envName string) (string, error) {
	v := verbs["scale"]
	if err := v.positional(args, 2, 2); err != nil {
		return "", err
	}
	app := args[0]
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 0 || n > maxReplicas {
		return "", &usageError{verb: v, msg: fmt.Sprintf("REPLICAS %q: want a number from 0 to %d", args[1], maxReplicas)}
	}
	env, err := x.day2Env(v, app, envName)
	if err != nil {
		return "", err
	}
	t, err := x.locate(ctx, app, env)
	if err != nil {
		return "", err
	}
	edits := []edit{{path: t.path, doc: t.doc, field: replicasField(t, app), value: n}}
	var overlays []string
	if t.kind == inOverlay {
		overlays = []string{pathDir(t.path)}
	}
	m, err := x.change(ctx, t.path, env.Name, edits)
	if err != nil {
		return "", err
	}
	return x.proposeEdits(ctx, "scale", app, []string{env.Name},
		fmt.Sprintf("Scale %s to %d in %s", app, n, env.Name),
		fmt.Sprintf("Sets %s to %d replicas in %s, in %s.", code(app), n, code(env.Name), t.desc),
		[]providers.Manifest{m}, overlays)
}

func runResources(ctx context.Context, x *execution, args []string, envName, cpu, mem string) (string, error) {
	v := verbs["resources"]
	if err := v.positional(args, 1, 1); err != nil {
		return "", err
	}
	app := args[0]
	if cpu == "" && mem == "" {
		return "", &usageError{verb: v, msg: "give --cpu, --memory or both"}
	}
	for flag, q := range map[string]string{"--cpu": cpu, "--memory": mem} {
		if err := checkQuantity(flag, q); err != nil {
			return "", &usageError{verb: v, msg: err.Error()}
		}
	}
	env, err := x.day2Env(v, app, envName)
	if err != nil {
		return "", err
	}
	t, err := x.locate(ctx, app, env)
	if err != nil {
		return "", err
	}
	var overlays []string
	switch t.kind {
	case inOverlay:
		// The overlay sets no resources: the Deployment it builds from holds them.
		overlay := pathDir(t.path)
		overlays = []string{overlay}
		if t, err = x.deploymentOf(ctx, t.path, app); err != nil {
			return "", err
		}
		if !strings.HasPrefix(t.path, overlay+"/") {
			t.desc += ", the base every environment builds from"
		}
	}
	root := resourcesRoot(t, app)
	var edits []edit
	if cpu != "" {
		edits = append(edits, edit{path: t.path, doc: t.doc, field: at(root, "requests.cpu"), value: cpu})
	}
	if mem != "" {
		edits = append(edits, edit{path: t.path, doc: t.doc, field: at(root, "requests.memory"), value: mem},
			edit{path: t.path, doc: t.doc, field: at(root, "limits.memory"), value: mem})
	}
	m, err := x.change(ctx, t.path, env.Name, edits)
	if err != nil {
		return "", err
	}
	what := []string{}
	if cpu != "" {
		what = append(what, "CPU request "+code(cpu))
	}
	if mem != "" {
		what = append(what, "memory "+code(mem))
	}
	return x.proposeEdits(ctx, "resources", app, []string{env.Name},
		fmt.Sprintf("Set %s resources in %s", app, env.Name),
		fmt.Sprintf("Sets %s of %s in %s, in %s.", joinAnd(what), code(app), code(env.Name), t.desc),
		[]providers.Manifest{m}, overlays)
}

// replicasField is where a target holds the replicas.
func replicasField(t target, app string) []yamledit.Step {
	switch t.kind {
	case inOverlay:
		return at("replicas", where{"name", app}, "count")
	case inValues:
		return at("replicaCount")
	case inDeployment:
		return at("spec.replicas")
	}
	return at(valuesRoot(t.kind), "replicaCount")
}

// resourcesRoot is where a target holds the container's resources.
func resourcesRoot(t target, app string) []yamledit.Step {
	if t.kind == inDeployment {
		return at(container(app), "resources")
	}
	return at(valuesRoot(t.kind), "resources")
}

func joinAnd(s []string) string {
	if len(s) == 2 {
		return s[0] + " and " + s[1]
	}
	return s[0]
}

func pathDir(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return "."
}
