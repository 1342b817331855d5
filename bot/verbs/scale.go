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

// scale is "/scale APP REPLICAS --env ENV".
type scale struct{ env string }

func (*scale) Spec() command.Spec {
	return command.Spec{Name: "scale", Args: "APP REPLICAS", Changes: true, Plannable: true,
		Summary:     "change an application's replicas in one environment",
		Description: "Edits the smallest thing that sets them: a Kustomize `replicas:` entry, a chart value, or the Deployment.",
		Examples:    []string{"/scale web 4 --env production"}}
}

func (v *scale) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&v.env, "env", "", "environment (required)")
}

func (v *scale) Run(ctx context.Context, req *command.Request) (command.Result, error) {
	if err := command.Positional(v, req.Args, 2, 2); err != nil {
		return command.Result{}, err
	}
	app := req.Args[0]
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
