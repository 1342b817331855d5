package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// verb is one slash command. Each lives in its own file and registers itself.
type verb struct {
	name    string
	args    string // positional synopsis, e.g. "APP"
	summary string
	// needsAuth: the verb changes something (a pull request, a check), so
	// the commenter must be authorized and the repository config valid.
	needsAuth bool
	// bind returns a fresh flag set and the function that runs the verb once
	// the flags are parsed; a new pair per invocation keeps runs independent.
	bind func() (*pflag.FlagSet, runFunc)
}

type runFunc func(ctx context.Context, x *execution, args []string) (string, error)

var verbs = map[string]*verb{}

func register(v *verb) { verbs[v.name] = v }

func sortedVerbs() []*verb {
	out := make([]*verb, 0, len(verbs))
	for _, v := range verbs {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// usageError is a command the user got wrong; the reply shows the usage.
type usageError struct {
	verb *verb
	msg  string
}

func (e *usageError) Error() string { return e.msg }

func (v *verb) usage() string {
	fs, _ := v.bind()
	var b strings.Builder
	fmt.Fprintf(&b, "/%s", v.name)
	if v.args != "" {
		b.WriteString(" " + v.args)
	}
	if fs.HasFlags() {
		b.WriteString(" [flags]\n\n" + strings.TrimRight(fs.FlagUsages(), "\n"))
	}
	return b.String()
}

// parse runs pflag on args; errors become usage errors, never output.
func (v *verb) parse(args []string) (*pflag.FlagSet, runFunc, error) {
	fs, run := v.bind()
	fs.Init(v.name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, nil, &usageError{verb: v, msg: "usage requested"}
		}
		return nil, nil, &usageError{verb: v, msg: err.Error()}
	}
	return fs, run, nil
}

// positional checks the count of positional arguments.
func (v *verb) positional(args []string, min, max int) error {
	if len(args) < min {
		return &usageError{verb: v, msg: fmt.Sprintf("missing %s", v.args)}
	}
	if max >= 0 && len(args) > max {
		return &usageError{verb: v, msg: fmt.Sprintf("unexpected argument %q", args[max])}
	}
	return nil
}
