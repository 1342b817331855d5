package command

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/gitops-bot/gitops-bot/bot/errs"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/providers/preflight"
)

type echo struct{ env string }

func (*echo) Spec() Spec                { return Spec{Name: "echo", Args: "WORD"} }
func (e *echo) Flags(fs *pflag.FlagSet) { fs.StringVar(&e.env, "env", "", "environment") }
func (e *echo) Run(context.Context, *Request) (Result, error) {
	return Result{Body: e.env}, nil
}

// The reply and the outcome follow the error's kind; the reply never
// claims something changed when it did not.
func TestRenderByKind(t *testing.T) {
	cases := []struct {
		err     error
		outcome Outcome
		want    []string
	}{
		{nil, OK, []string{"done"}},
		{errs.Usage("missing WORD"), BadArgs, []string{"`/echo`: missing WORD", "Usage:", "/echo WORD [flags]", "--env"}},
		{errs.Invalid("no workload `x`"), Bad, []string{"`/echo`: no workload `x`", "Nothing was changed."}},
		{errs.Refused("#3 is not merged"), Refuse, []string{"`/echo`: #3 is not merged"}},
		{fmt.Errorf("opening the pull request: %w", errors.New("POST https://api.github.com/repos/acme/fleet/pulls: 502 Bad Gateway []")), Failed,
			[]string{"`/echo` failed: opening the pull request: the host answered 502 Bad Gateway", "Nothing was changed."}},
		{&forge.LeftBehind{What: "branch gitops-bot/echo", Err: errors.New("opening pull request: 502 Bad Gateway")}, Failed,
			[]string{"branch gitops-bot/echo remains: commenting again reuses it"}},
		{errs.Bug(errors.New("generated objects do not validate")), Failed, []string{"bug in gitops-bot", "generated objects do not validate"}},
		{&preflight.Error{Problems: []preflight.Problem{{File: "a.yaml", Err: "broken"}}}, Bad, []string{"does not pass the checks", "a.yaml"}},
	}
	for _, c := range cases {
		body, outcome := Render("/echo", &echo{}, Result{Body: "done"}, c.err)
		if _, left := c.err.(*forge.LeftBehind); left && strings.Contains(body, "Nothing was changed") {
			t.Errorf("%v: says nothing was changed when a branch remains:\n%s", c.err, body)
		}
		if secret, _ := Render("/echo --set password=hunter2", &echo{}, Result{}, c.err); c.outcome == Refuse && strings.Contains(secret, "hunter2") {
			t.Errorf("a refusal echoes the arguments:\n%s", secret)
		}
		if outcome != c.outcome {
			t.Errorf("%v: outcome %s, want %s", c.err, outcome, c.outcome)
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("%v: reply lacks %q:\n%s", c.err, w, body)
			}
		}
	}
	if errs.KindOf(fmt.Errorf("wrapped: %w", errs.Refused("x"))) != errs.KindRefused {
		t.Error("a wrapped refusal lost its kind")
	}
}

// Parse fills a fresh verb's flags and leaves the positional arguments.
func TestParseAndPositional(t *testing.T) {
	v := &echo{}
	args, err := Parse(v, []string{"hello", "--env", "staging"})
	if err != nil || v.env != "staging" || len(args) != 1 || args[0] != "hello" {
		t.Fatalf("Parse = %v, %v, env %q", args, err, v.env)
	}
	if err := Positional(v, nil, 1, 1); errs.KindOf(err) != errs.KindUsage || !strings.Contains(err.Error(), "missing WORD") {
		t.Errorf("missing: %v", err)
	}
	if err := Positional(v, []string{"a", "b"}, 1, 1); err == nil || !strings.Contains(err.Error(), `unexpected argument "b"`) {
		t.Errorf("extra: %v", err)
	}
	if _, err := Parse(&echo{}, []string{"--nope"}); errs.KindOf(err) != errs.KindUsage {
		t.Errorf("unknown flag: %v", err)
	}
}
