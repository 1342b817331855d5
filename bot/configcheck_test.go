package bot_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot"
	"github.com/gitops-bot/gitops-bot/bot/bottest"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/forgetest"
)

// checking is the fake host with checks recorded.
type checking struct {
	*forgetest.Fake
	reported []forge.Check
}

func (c *checking) Report(_ context.Context, _ forge.Repo, sha string, ch forge.Check) (forge.Check, error) {
	c.reported = append(c.reported, ch)
	return ch, nil
}
func (c *checking) GetCheck(context.Context, forge.Repo, string, int64) (forge.Check, error) {
	return forge.Check{}, forge.ErrNotFound
}
func (c *checking) Contains(context.Context, forge.Repo, string, string) (bool, error) {
	return false, nil
}

func TestConfigCheckWhenTheFileGoesAwayOrCannotBeRead(t *testing.T) {
	f := &checking{Fake: bottest.NewFake(map[string]string{".gitops-bot.yaml": "provider: flux\n"})}
	f.ChangedFiles = map[int][]string{5: {".gitops-bot.yaml"}, 6: {"README.md"}}
	f.Revisions = map[string]map[string]string{"head5": {"README.md": "x\n"}} // the file deleted at the head
	b := bot.New(bottest.Quiet)
	if err := b.HandlePull(context.Background(), f, forge.PullEvent{Repo: bottest.Repo, Number: 5, HeadSHA: "head5"}); err != nil {
		t.Fatal(err)
	}
	if len(f.reported) != 1 || f.reported[0].Conclusion != "success" || f.reported[0].Name != bot.ConfigCheckName ||
		!strings.Contains(f.reported[0].Summary, "none listed, so each directory `clusters/NAME` is environment NAME") {
		t.Errorf("deleted config: %+v", f.reported)
	}
	if err := b.HandlePull(context.Background(), f, forge.PullEvent{Repo: bottest.Repo, Number: 6, HeadSHA: "head6"}); err != nil || len(f.reported) != 1 {
		t.Errorf("a pull request that leaves the config alone: %v, %d checks", err, len(f.reported))
	}
	// A read that fails is the delivery's error (retried), not a verdict.
	f.ReadErr = errors.New("502 Bad Gateway")
	err := b.HandlePull(context.Background(), f, forge.PullEvent{Repo: bottest.Repo, Number: 5, HeadSHA: "head5"})
	if err == nil || !strings.Contains(err.Error(), "502") || len(f.reported) != 1 {
		t.Errorf("read failure: %v, %d checks", err, len(f.reported))
	}
}
