package bot

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

func init() {
	register(&verb{
		name:    "help",
		summary: "show every command and its flags",
		bind: func() (*pflag.FlagSet, runFunc) {
			return pflag.NewFlagSet("help", pflag.ContinueOnError), runHelp
		},
	})
}

func runHelp(_ context.Context, _ *execution, _ []string) (string, error) {
	var b strings.Builder
	b.WriteString("gitops-bot commands. Put each on its own line of a new comment; quoted lines and code blocks are ignored.\n")
	for _, v := range sortedVerbs() {
		fmt.Fprintf(&b, "\n**/%s** %s\n\n%s\n", v.name, v.summary, codeBlock("", v.usage()))
	}
	return b.String(), nil
}
