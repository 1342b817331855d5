package verbs

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/gitops-bot/gitops-bot/bot/command"
	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/md"
	"github.com/gitops-bot/gitops-bot/bot/suggest"
)

func init() { command.Register(func() command.Verb { return &help{} }) }

// help is "/help [VERB]": every verb as Prow's plugin help shows one, with
// its synopsis, description, examples and who may run it here.
type help struct{}

func (*help) Spec() command.Spec {
	return command.Spec{Name: "help", Args: "[VERB]", Summary: "show every command, or one, with its flags, examples and who may run it",
		Description: "Without a verb, lists every command; with one, shows only that command.",
		Examples:    []string{"/help", "/help scale"}}
}

func (*help) Flags(*pflag.FlagSet) {}

func (h *help) Run(_ context.Context, req *command.Request) (command.Result, error) {
	if err := command.Positional(h, req.Args, 0, 1); err != nil {
		return command.Result{}, err
	}
	verbs := command.All()
	if len(req.Args) == 1 {
		name := strings.TrimPrefix(strings.ToLower(req.Args[0]), "/")
		v, ok := command.Lookup(name)
		if !ok {
			return command.Result{}, errs.Usage("there is no command /%s.%s", name, suggest.DidYouMean(name, command.Names(), func(s string) string { return "`/help " + s + "`" }))
		}
		verbs = []command.Verb{v}
	}
	var b strings.Builder
	if len(verbs) > 1 {
		b.WriteString("gitops-bot commands. Put each on its own line of a new comment; quoted lines and code blocks are ignored. `/help VERB` shows one.\n")
	}
	for _, v := range verbs {
		s := v.Spec()
		fmt.Fprintf(&b, "\n### /%s\n\n%s.", s.Name, upperFirst(s.Summary))
		if s.Description != "" {
			b.WriteString(" " + s.Description)
		}
		fmt.Fprintf(&b, "\n\n%s\n\n**Who may run it:** %s\n", md.CodeBlock("", command.UsageText(v)), whoMay(s, req.Config))
		if len(s.Examples) > 0 {
			fmt.Fprintf(&b, "\n**Examples:**\n\n%s\n", md.CodeBlock("", strings.Join(s.Examples, "\n")))
		}
	}
	return command.Result{Body: b.String()}, nil
}

// whoMay says who may run a verb in this repository, from its config.
func whoMay(s command.Spec, cfg *config.Config) string {
	if !s.Changes {
		return "anyone who can comment here."
	}
	if cfg == nil {
		return "people with write access, unless the repository config says otherwise (it could not be read)."
	}
	a := cfg.Access
	who := fmt.Sprintf("people with at least %s permission on this repository", md.Code(a.MinPermission))
	var only []string
	for _, u := range a.Users {
		only = append(only, md.Code(u))
	}
	for _, t := range a.Teams {
		only = append(only, "the team "+md.Code(t))
	}
	if len(only) > 0 {
		who += ", and of them only " + strings.Join(only, ", ")
	}
	return who + " (`access` in `" + config.Path + "`)."
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
