package verbs_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot"
	"github.com/gitops-bot/gitops-bot/bot/bottest"
	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/forge"
)

func TestVerifyCommand(t *testing.T) {
	f := bottest.NewFake(map[string]string{config.Path: "environments:\n- {name: staging}\n- {name: production}\n"})
	pr := bottest.MergedBotPull(t, f)
	f.Pulls = map[int]forge.PullInfo{100: pr, 101: {Number: 101}}
	f.ChangedFiles = map[int][]string{100: {"clusters/staging/podinfo.yaml", "clusters/production/podinfo.yaml"}}
	v := &bottest.RecordingVerifier{}
	b := bot.New(bottest.Quiet)
	b.Verifier = v
	ev := bottest.Comment(50, "alice", "/verify --env production")
	ev.Thread, ev.IsPR = 100, true
	if err := b.HandleComment(context.Background(), f, ev); err != nil {
		t.Fatal(err)
	}
	if len(v.Reqs) != 1 || v.Reqs[0].Env != "production" {
		t.Errorf("requests = %+v", v.Reqs)
	}
	reply := f.Replies()[len(f.Replies())-1].Body
	if !strings.Contains(reply, "`gitops-bot/sync: production`") {
		t.Errorf("reply = %q", reply)
	}

	ev = bottest.Comment(51, "alice", "/verify")
	ev.Thread, ev.IsPR = 101, true
	b.HandleComment(context.Background(), f, ev)
	if reply := f.Replies()[len(f.Replies())-1].Body; !strings.Contains(reply, "not merged yet") {
		t.Errorf("unmerged: %q", reply)
	}
	ev = bottest.Comment(52, "alice", "/verify")
	b.HandleComment(context.Background(), f, ev)
	if reply := f.Replies()[len(f.Replies())-1].Body; !strings.Contains(reply, "comment /verify on the merged pull request") {
		t.Errorf("on an issue: %q", reply)
	}
	ev = bottest.Comment(53, "rita", "/verify")
	ev.Thread, ev.IsPR = 100, true
	b.HandleComment(context.Background(), f, ev)
	if len(v.Reqs) != 1 {
		t.Error("a reader started a verification")
	}
}
