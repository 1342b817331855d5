package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/spf13/pflag"

	"github.com/gitops-bot/gitops-bot/forge"
)

// maxDiff keeps a /plan reply within GitHub's 65,536-character comment.
const maxDiff = 50000

func init() {
	register(&verb{
		name:      "plan",
		args:      "/VERB ARGS...",
		summary:   "show what a command would change, as a diff, without opening a pull request",
		needsAuth: true,
		bind: func() (*pflag.FlagSet, runFunc) {
			fs := pflag.NewFlagSet("plan", pflag.ContinueOnError)
			fs.SetInterspersed(false) // everything after the verb is the inner command's
			return fs, runPlan
		},
	})
}

func runPlan(ctx context.Context, x *execution, args []string) (string, error) {
	v := verbs["plan"]
	if len(args) == 0 {
		return "", &usageError{verb: v, msg: "missing the command to plan, as in /plan /deploy web --image ..."}
	}
	name := strings.TrimPrefix(strings.ToLower(args[0]), "/")
	inner, ok := verbs[name]
	if !ok || !inner.needsAuth || name == "plan" || name == "verify" {
		return "", &usageError{verb: v, msg: fmt.Sprintf("/%s does not change files; /plan works with %s", name, changingVerbs())}
	}
	fs, run, err := inner.parse(args[1:])
	if err != nil {
		return "", err
	}
	x.plan = true
	return run(ctx, x, fs.Args())
}

func changingVerbs() string {
	var out []string
	for _, v := range sortedVerbs() {
		if v.needsAuth && v.name != "plan" && v.name != "verify" {
			out = append(out, code("/"+v.name))
		}
	}
	return strings.Join(out, ", ")
}

// planReply shows the change: its objects and the diff against the base.
func (x *execution) planReply(ctx context.Context, c forge.Change, objs []MarkedObject) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "Plan for %s: %s. Nothing was opened; run the command without `/plan` to open the pull request.\n\n", code(x.inv.Line), c.Title)
	if len(objs) > 0 {
		b.WriteString("| environment | kind | namespace | name | file |\n| --- | --- | --- | --- | --- |\n")
		for _, o := range objs {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", cell(o.Env), o.Kind, cell(o.Namespace), cell(o.Name), cell(o.Path))
		}
		b.WriteString("\n")
	}
	var diff strings.Builder
	for _, f := range c.Files {
		old, err := x.forge.ReadFile(ctx, x.event.Repo, c.Base, f.Path)
		if err != nil && !errors.Is(err, forge.ErrNotFound) {
			return "", err
		}
		from := "a/" + f.Path
		if err != nil {
			from = "/dev/null"
		}
		text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: difflib.SplitLines(string(old)), B: difflib.SplitLines(string(f.Content)),
			FromFile: from, ToFile: "b/" + f.Path, Context: 3,
		})
		if err != nil {
			return "", err
		}
		diff.WriteString(text)
	}
	d := diff.String()
	if len(d) > maxDiff {
		d = d[:maxDiff] + "\n... (the diff goes on; open the pull request to see all of it)\n"
	}
	b.WriteString(codeBlock("diff", d))
	return b.String(), nil
}
