package verbs_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot/bottest"
	"github.com/gitops-bot/gitops-bot/bot/command"
	"github.com/gitops-bot/gitops-bot/bot/config"
)

func TestHelpListsEveryVerbAndFlag(t *testing.T) {
	f := bottest.NewFake(nil)
	f.PermissionErr = errors.New("help needs no permission check")
	reply := bottest.HandleEvent(t, nil, f, bottest.Comment(1, "rita", "/help"))
	for _, want := range []string{"/deploy APP [flags]", "--chart URL", "--version", "--env ENV", "--set KEY=VALUE", "--values FILE", "--provider", "--namespace", "/help",
		"**Examples:**", "/deploy web --image ghcr.io/acme/web:1.4.2", "**Who may run it:** anyone who can comment here.",
		"**Who may run it:** people with at least `write` permission"} {
		if !strings.Contains(reply, want) {
			t.Errorf("help lacks %q:\n%s", want, reply)
		}
	}
	// Every verb has a synopsis, a description and an example; no flag shows
	// a type name of the flag library.
	for _, v := range command.All() {
		s := v.Spec()
		if s.Summary == "" || s.Description == "" || len(s.Examples) == 0 {
			t.Errorf("/%s lacks a summary, description or example", s.Name)
		}
		for _, ex := range s.Examples {
			if !strings.HasPrefix(ex, "/"+s.Name) {
				t.Errorf("/%s example %q is of another verb", s.Name, ex)
			}
		}
		if !strings.Contains(reply, "### /"+s.Name+"\n") {
			t.Errorf("help lacks /%s", s.Name)
		}
	}
	for _, typeName := range []string{"stringArray", " int ", " string ", "stringSlice"} {
		if strings.Contains(reply, typeName) {
			t.Errorf("help shows the type name %q:\n%s", typeName, reply)
		}
	}
}

// /help VERB shows one verb, and who may run it follows the repository's access.
func TestHelpOfOneVerbAndItsAccess(t *testing.T) {
	f := bottest.NewFake(map[string]string{config.Path: "access:\n  minPermission: maintain\n  teams: [acme/platform]\n"})
	reply := bottest.HandleEvent(t, nil, f, bottest.Comment(1, "rita", "/help scale"))
	if !strings.Contains(reply, "### /scale") || strings.Contains(reply, "### /deploy") {
		t.Errorf("/help scale:\n%s", reply)
	}
	if !strings.Contains(reply, "at least `maintain` permission on this repository, and of them only the team `acme/platform`") {
		t.Errorf("who may run it:\n%s", reply)
	}
}

// A slip in a verb, a flag or /help's argument gets "did you mean".
func TestDidYouMean(t *testing.T) {
	f := bottest.Fleet(t, "flux", nil)
	for cmd, want := range map[string]string{
		"/deplyo web":                     "unknown command `/deplyo`. Did you mean `/deploy`?",
		"/scale frontend 3 --evn staging": "unknown flag: --evn. Did you mean `--env`?",
		"/deploy podinfo --vesion 6.7.0":  "Did you mean `--version`?",
		"/help scael":                     "Did you mean `/help scale`?",
		"/kubectl delete ns":              "unknown command `/kubectl`. Known commands",
	} {
		reply := bottest.Handle(t, f, cmd)
		if !strings.Contains(reply, want) {
			t.Errorf("%s: reply lacks %q:\n%s", cmd, want, reply)
		}
	}
	if len(f.Proposals()) != 0 {
		t.Error("a mistyped command opened something")
	}
}
