package verbs

import (
	"context"
	"strings"

	"github.com/spf13/pflag"

	"github.com/gitops-bot/gitops-bot/bot/command"
	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/bot/suggest"
)

func init() { command.Register(func() command.Verb { return &plan{} }) }

// plan is "/plan /VERB ARGS...": any plannable verb, shown instead of proposed.
type plan struct{}

func (*plan) Spec() command.Spec {
	return command.Spec{Name: "plan", Args: "/VERB ARGS...", Changes: true,
		Summary:     "show what a command would change, as a diff, without opening a pull request",
		Description: "Runs the command's checks and shows the objects it would add and a diff that `git apply` takes; nothing is written.",
		Examples:    []string{"/plan /scale web 3 --env staging", "/plan /deploy web --image ghcr.io/acme/web:1.4.2 --port 8080 --env staging"}}
}

func (*plan) Flags(fs *pflag.FlagSet) {
	fs.SetInterspersed(false) // everything after the verb is the inner command's
}

func (*plan) Run(ctx context.Context, req *command.Request) (command.Result, error) {
	if len(req.Args) == 0 {
		return command.Result{}, errs.Usage("missing the command to plan, as in /plan /deploy web --image ...")
	}
	name := strings.TrimPrefix(strings.ToLower(req.Args[0]), "/")
	inner, ok := command.Lookup(name)
	if !ok {
		return command.Result{}, errs.Usage("there is no command /%s.%s /plan works with %s", name, suggest.DidYouMean(name, command.Names(), func(s string) string { return "`/" + s + "`" }), plannable())
	}
	if !inner.Spec().Plannable {
		return command.Result{}, errs.Usage("/%s does not change files; /plan works with %s", name, plannable())
	}
	args, err := command.Parse(inner, req.Args[1:])
	if err != nil {
		return command.Result{}, err
	}
	sub := *req
	sub.Args, sub.Plan = args, true
	return inner.Run(ctx, &sub)
}

func plannable() string {
	var out []string
	for _, v := range command.All() {
		if v.Spec().Plannable {
			out = append(out, md.Code("/"+v.Spec().Name))
		}
	}
	return strings.Join(out, ", ")
}
