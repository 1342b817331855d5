package verbs

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/gitops-bot/gitops-bot/bot/command"
	"github.com/gitops-bot/gitops-bot/bot/md"
)

func init() { command.Register(func() command.Verb { return &help{} }) }

// help is "/help".
type help struct{}

func (*help) Spec() command.Spec {
	return command.Spec{Name: "help", Summary: "show every command and its flags"}
}

func (*help) Flags(*pflag.FlagSet) {}

func (*help) Run(context.Context, *command.Request) (command.Result, error) {
	var b strings.Builder
	b.WriteString("gitops-bot commands. Put each on its own line of a new comment; quoted lines and code blocks are ignored.\n")
	for _, v := range command.All() {
		s := v.Spec()
		fmt.Fprintf(&b, "\n**/%s** %s\n\n%s\n", s.Name, s.Summary, md.CodeBlock("", command.UsageText(v)))
	}
	return command.Result{Body: b.String()}, nil
}
