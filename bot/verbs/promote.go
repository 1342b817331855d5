package verbs

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/gitops-bot/gitops-bot/bot/command"
	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/md"
)

func init() { command.Register(func() command.Verb { return &promote{} }) }

// promote is "/promote APP --from ENV --to ENV".
type promote struct{ from, to string }

func (*promote) Spec() command.Spec {
	return command.Spec{Name: "promote", Args: "APP", Changes: true, Plannable: true,
		Summary:     "copy an application's versions (image tags, chart version) from one environment to another",
		Description: "Only the versions that differ are copied, and the pull request lists each; replicas, resources and other settings stay as they are.",
		Examples:    []string{"/promote web --from staging --to production"}}
}

func (v *promote) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&v.from, "from", "", "`ENV` to copy from (required)")
	fs.StringVar(&v.to, "to", "", "`ENV` to change (required)")
}

func (v *promote) Run(ctx context.Context, req *command.Request) (command.Result, error) {
	if err := command.Positional(v, req.Args, 1, 1); err != nil {
		return command.Result{}, err
	}
	app := req.Args[0]
	if v.from == "" || v.to == "" || v.from == v.to {
		return command.Result{}, errs.Usage("--from and --to are required and must differ")
	}
	from, err := appEnv(req, app, v.from)
	if err != nil {
		return command.Result{}, err
	}
	to, err := appEnv(req, app, v.to)
	if err != nil {
		return command.Result{}, err
	}
	w := req.Workloads()
	p, err := w.Promote(ctx, app, from, to)
	if err != nil {
		return command.Result{}, err
	}
	if len(p.Lines) == 0 {
		return command.Result{}, errs.Refused("nothing to promote: %s pins the same versions in %s and %s.", md.Code(app), md.Code(from.Name), md.Code(to.Name))
	}
	return req.ProposeChange(ctx, w, p.Change)
}
