package verbs

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/gitops-bot/gitops-bot/bot/command"
	"github.com/gitops-bot/gitops-bot/bot/errs"
)

func init() { command.Register(func() command.Verb { return &setImage{} }) }

// setImage is "/set-image APP IMAGE:TAG --env ENV".
type setImage struct{ env, container string }

func (*setImage) Spec() command.Spec {
	return command.Spec{Name: "set-image", Args: "APP IMAGE:TAG", Changes: true, Plannable: true,
		Summary:     "change an application's image in one environment",
		Description: "Edits the smallest thing that sets it: a Kustomize `images:` entry, a chart value, or the container; the environment's build must show the new image.",
		Examples:    []string{"/set-image web ghcr.io/acme/web:1.4.3 --env staging", "/set-image web ghcr.io/acme/proxy:2.0 --container proxy --env staging"}}
}

func (v *setImage) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&v.env, "env", "", "environment (required)")
	fs.StringVar(&v.container, "container", "", "the container to change, where the workload has several (default: the one running this image, or named like the workload)")
}

func (v *setImage) Run(ctx context.Context, req *command.Request) (command.Result, error) {
	if err := command.Positional(v, req.Args, 2, 2); err != nil {
		return command.Result{}, err
	}
	app := req.Args[0]
	image, err := parseImage(req.Args[1])
	if err != nil {
		return command.Result{}, errs.Usage("IMAGE %q: %v", req.Args[1], err)
	}
	env, err := appEnv(req, app, v.env)
	if err != nil {
		return command.Result{}, err
	}
	w := req.Workloads()
	c, err := w.SetContainerImage(ctx, app, v.container, env, image)
	if err != nil {
		return command.Result{}, err
	}
	return req.ProposeChange(ctx, w, c)
}
