package verbs

import (
	"context"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/gitops-bot/gitops-bot/bot/command"
	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/workload"
)

func init() { command.Register(func() command.Verb { return &scale{} }) }

// scale is "/scale APP REPLICAS --env ENV", or "/scale APP --min N --max M
// --env ENV" for a workload an autoscaler scales.
type scale struct {
	env      string
	min, max int
}

func (*scale) Spec() command.Spec {
	return command.Spec{Name: "scale", Args: "APP [REPLICAS]", Changes: true, Plannable: true,
		Summary:     "change an application's replicas, or its autoscaler's bounds, in one environment",
		Description: "Edits the smallest thing that sets them: a Kustomize `replicas:` entry, a chart value, or the Deployment. Where an HPA or a KEDA ScaledObject scales the workload, `--min` and `--max` change its bounds instead.",
		Examples:    []string{"/scale web 4 --env production", "/scale web --min 2 --max 10 --env production"}}
}

func (v *scale) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&v.env, "env", "", "environment (required)")
	fs.IntVar(&v.min, "min", workload.Unset, "the autoscaler's minimum replicas, `N`")
	fs.IntVar(&v.max, "max", workload.Unset, "the autoscaler's maximum replicas, `N`")
}

func (v *scale) Run(ctx context.Context, req *command.Request) (command.Result, error) {
	bounds := v.min != workload.Unset || v.max != workload.Unset
	want := 2
	if bounds {
		want = 1 // the replicas are the autoscaler's
	}
	if err := command.Positional(v, req.Args, want, want); err != nil {
		if bounds && len(req.Args) == 2 {
			return command.Result{}, errs.Usage("give REPLICAS or --min/--max, not both: an autoscaler sets the replicas between its bounds")
		}
		return command.Result{}, err
	}
	app := req.Args[0]
	if bounds {
		return v.autoscale(ctx, req, app)
	}
	n, err := strconv.Atoi(req.Args[1])
	if err != nil || n < 0 || n > workload.MaxReplicas {
		return command.Result{}, errs.Usage("REPLICAS %q: want a number from 0 to %d", req.Args[1], workload.MaxReplicas)
	}
	env, err := appEnv(req, app, v.env)
	if err != nil {
		return command.Result{}, err
	}
	w := req.Workloads()
	c, err := w.Scale(ctx, app, env, n)
	if err != nil {
		return command.Result{}, err
	}
	return req.ProposeChange(ctx, w, c)
}

func (v *scale) autoscale(ctx context.Context, req *command.Request, app string) (command.Result, error) {
	for _, b := range [][2]any{{"--min", v.min}, {"--max", v.max}} {
		if n := b[1].(int); n != workload.Unset && (n < 0 || n > workload.MaxReplicas) {
			return command.Result{}, errs.Usage("%s %d: want a number from 0 to %d", b[0], n, workload.MaxReplicas)
		}
	}
	env, err := appEnv(req, app, v.env)
	if err != nil {
		return command.Result{}, err
	}
	w := req.Workloads()
	c, err := w.Autoscale(ctx, app, env, v.min, v.max)
	if err != nil {
		return command.Result{}, err
	}
	return req.ProposeChange(ctx, w, c)
}
