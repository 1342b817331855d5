package verbs_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot/bottest"
)

func TestHelpListsEveryVerbAndFlag(t *testing.T) {
	f := bottest.NewFake(nil)
	f.PermissionErr = errors.New("help needs no permission check")
	reply := bottest.HandleEvent(t, nil, f, bottest.Comment(1, "rita", "/help"))
	for _, want := range []string{"/deploy APP [flags]", "--chart", "--version", "--env", "--set", "--values", "--provider", "--namespace", "/help"} {
		if !strings.Contains(reply, want) {
			t.Errorf("help lacks %q:\n%s", want, reply)
		}
	}
}
