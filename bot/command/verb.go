// Package command is what every slash command shares: how a comment is
// read into invocations, the Verb a command implements, the Request it
// gets, the kinds of error it may return, the one place a reply is
// rendered, and how a change becomes a pull request.
package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/pflag"

	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/bot/suggest"
	"github.com/gitops-bot/gitops-bot/forge"
)

// Spec describes a verb for parsing, /help and /plan.
type Spec struct {
	Name    string // without the slash
	Args    string // positional synopsis, e.g. "APP REPLICAS"
	Summary string // one line, lower case, no full stop
	// Description says what the verb does and what it refuses, for /help.
	Description string
	// Examples are whole command lines, for /help.
	Examples []string
	// Changes: the verb changes something (a pull request, a check), so the
	// commenter must be authorized and the repository config valid.
	Changes bool
	// Plannable: /plan can show the verb's change without opening it.
	Plannable bool
}

// Verb is one slash command. Each lives in one file of bot/verbs with its
// test and registers a constructor; a fresh value per invocation holds the
// parsed flags, so runs share nothing.
type Verb interface {
	Spec() Spec
	// Flags binds the verb's flags to its fields.
	Flags(fs *pflag.FlagSet)
	// Run does the work. A nil error is an "ok" outcome; otherwise the
	// error's kind (see errors.go) decides the reply and the metrics.
	Run(ctx context.Context, req *Request) (Result, error)
}

// Result is what a verb did.
type Result struct {
	Body string // the reply section, markdown
	// PR is the pull request the command opened or updated, if any.
	PR *forge.PullRequest
}

var (
	registryMu sync.RWMutex
	registry   = map[string]func() Verb{}
)

// Register adds a verb; verbs call it from init.
func Register(newVerb func() Verb) {
	name := newVerb().Spec().Name
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("command: verb registered twice: " + name)
	}
	registry[name] = newVerb
}

// Lookup returns a fresh verb by name.
func Lookup(name string) (Verb, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	f, ok := registry[name]
	if !ok {
		return nil, false
	}
	return f(), true
}

// All returns every verb, by name.
func All() []Verb {
	registryMu.RLock()
	out := make([]Verb, 0, len(registry))
	for _, f := range registry {
		out = append(out, f())
	}
	registryMu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Spec().Name < out[j].Spec().Name })
	return out
}

// Names lists every verb's name, sorted.
func Names() []string {
	var names []string
	for _, v := range All() {
		names = append(names, v.Spec().Name)
	}
	return names
}

// Parse parses args into v's flags and returns the positional arguments.
// Errors are usage errors; pflag never writes output.
func Parse(v Verb, args []string) ([]string, error) {
	fs := flagSet(v)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, errs.Usage("usage requested")
		}
		return nil, errs.Usage("%s.%s", err.Error(), flagHint(fs, err))
	}
	return fs.Args(), nil
}

// flagHint suggests the flag meant by an unknown one.
func flagHint(fs *pflag.FlagSet, err error) string {
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok {
		return ""
	}
	var names []string
	fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	return suggest.DidYouMean(name, names, func(s string) string { return "`--" + s + "`" })
}

func flagSet(v Verb) *pflag.FlagSet {
	fs := pflag.NewFlagSet(v.Spec().Name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	v.Flags(fs)
	return fs
}

// UsageText is a verb's synopsis and flags, each flag with a placeholder
// for its value (never a type name) and its default when it has one.
func UsageText(v Verb) string {
	spec := v.Spec()
	var b strings.Builder
	fmt.Fprintf(&b, "/%s", spec.Name)
	if spec.Args != "" {
		b.WriteString(" " + spec.Args)
	}
	flags := FlagLines(v)
	if len(flags) > 0 {
		b.WriteString(" [flags]\n\n" + strings.Join(flags, "\n"))
	}
	return b.String()
}

// FlagLines describes each flag of v on a line: "--env ENV  environment".
func FlagLines(v Verb) []string {
	type line struct{ left, right string }
	var lines []line
	width := 0
	flagSet(v).VisitAll(func(f *pflag.Flag) {
		left := "--" + f.Name
		value, right := placeholder(f)
		if f.Value.Type() != "bool" {
			left += " " + value
		}
		if d := f.DefValue; d != "" && d != "[]" && d != "0" && d != "false" && !strings.Contains(right, "default") {
			right += fmt.Sprintf(" (default %s)", d)
		}
		if strings.HasSuffix(f.Value.Type(), "Array") || strings.HasSuffix(f.Value.Type(), "Slice") {
			if !strings.Contains(right, "repeat") {
				right += "; repeatable"
			}
		}
		width = max(width, len(left))
		lines = append(lines, line{left, right})
	})
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = fmt.Sprintf("  %-*s  %s", width, l.left, l.right)
	}
	return out
}

// placeholder names a flag's value: the usage's `quoted` word (the usage
// is returned without the quotes), or the flag in capitals (--env ENV).
func placeholder(f *pflag.Flag) (name, usage string) {
	if name, usage := pflag.UnquoteUsage(f); strings.Contains(f.Usage, "`") {
		return name, usage
	}
	return strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_")), f.Usage
}

// Positional checks the count of positional arguments (max < 0: no limit).
func Positional(v Verb, args []string, min, max int) error {
	if len(args) < min {
		return errs.Usage("missing %s", v.Spec().Args)
	}
	if max >= 0 && len(args) > max {
		return errs.Usage("unexpected argument %q", args[max])
	}
	return nil
}
