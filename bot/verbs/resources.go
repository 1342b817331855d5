package verbs

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/gitops-bot/gitops-bot/bot/command"
	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/workload"
)

func init() { command.Register(func() command.Verb { return &resources{} }) }

// resources is "/resources APP [--cpu Q] [--memory Q] --env ENV".
type resources struct{ env, cpu, mem, container string }

func (*resources) Spec() command.Spec {
	return command.Spec{Name: "resources", Args: "APP", Changes: true, Plannable: true,
		Summary:     "change an application's CPU request and memory request and limit in one environment",
		Description: "Changes the workload of this environment only: where the Deployment is shared by a Kustomize base, a patch in the environment's overlay.",
		Examples:    []string{"/resources web --memory 512Mi --cpu 500m --env production"}}
}

func (v *resources) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&v.env, "env", "", "environment (required)")
	fs.StringVar(&v.cpu, "cpu", "", "CPU request, a `QUANTITY` such as 500m")
	fs.StringVar(&v.mem, "memory", "", "memory request and limit, a `QUANTITY` such as 512Mi")
	fs.StringVar(&v.container, "container", "", "the container to change, where the workload has several (default: the one named like the workload)")
}

func (v *resources) Run(ctx context.Context, req *command.Request) (command.Result, error) {
	if err := command.Positional(v, req.Args, 1, 1); err != nil {
		return command.Result{}, err
	}
	app := req.Args[0]
	if v.cpu == "" && v.mem == "" {
		return command.Result{}, errs.Usage("give --cpu, --memory or both")
	}
	for _, q := range [][2]string{{"--cpu", v.cpu}, {"--memory", v.mem}} {
		if err := workload.CheckQuantity(q[0], q[1]); err != nil {
			return command.Result{}, errs.Usage("%v", err)
		}
	}
	env, err := appEnv(req, app, v.env)
	if err != nil {
		return command.Result{}, err
	}
	w := req.Workloads()
	c, err := w.SetContainerResources(ctx, app, v.container, env, v.cpu, v.mem)
	if err != nil {
		return command.Result{}, err
	}
	return req.ProposeChange(ctx, w, c)
}
