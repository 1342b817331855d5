package bot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gitops-bot/gitops-bot/bot"
	"github.com/gitops-bot/gitops-bot/bot/bottest"
	"github.com/gitops-bot/gitops-bot/bot/command"
	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/marker"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/forgetest"
)

func TestDeployAgainUpdatesSamePullRequest(t *testing.T) {
	f := bottest.NewFake(nil)
	bottest.HandleEvent(t, nil, f, bottest.Comment(1, "alice", bottest.Podinfo))
	reply := bottest.HandleEvent(t, nil, f, bottest.Comment(2, "alice", bottest.Podinfo))

	if n := len(f.PullRequests()); n != 1 {
		t.Fatalf("pull requests = %d, want 1", n)
	}
	ps := f.Proposals()
	if len(ps) != 2 || ps[0].Branch != ps[1].Branch {
		t.Fatalf("proposals %d on branches %v", len(ps), ps)
	}
	if !strings.Contains(reply, "Updated #100") || !strings.Contains(reply, "instead of opening a second") {
		t.Errorf("reply = %q", reply)
	}
}

func TestUnknownVerbGetsHelp(t *testing.T) {
	f := bottest.NewFake(nil)
	reply := bottest.HandleEvent(t, nil, f, bottest.Comment(1, "alice", "/depoly podinfo"))
	if !strings.Contains(reply, "unknown command `/depoly`") || !strings.Contains(reply, "`/deploy`") {
		t.Errorf("reply = %q", reply)
	}
}

func TestReadOnlyUserIsRefused(t *testing.T) {
	f := bottest.NewFake(nil)
	reply := bottest.HandleEvent(t, nil, f, bottest.Comment(1, "rita", bottest.Podinfo))
	if len(f.Proposals()) != 0 {
		t.Fatal("a read-only user got a pull request")
	}
	if !strings.Contains(reply, "Sorry @rita") || !strings.Contains(reply, "need write access") {
		t.Errorf("reply = %q", reply)
	}
}

func TestAllowLists(t *testing.T) {
	cfg := "access:\n  minPermission: read\n  users: [Bob]\n  teams: [acme/platform]\n"
	f := bottest.NewFake(map[string]string{config.Path: cfg})
	f.Permissions["bob"] = forge.PermRead
	f.Permissions["carol"] = forge.PermRead
	f.Teams = map[string][]string{"acme/platform": {"carol"}}

	bottest.HandleEvent(t, nil, f, bottest.Comment(1, "bob", bottest.Podinfo))
	bottest.HandleEvent(t, nil, f, bottest.Comment(2, "carol", bottest.Podinfo))
	reply := bottest.HandleEvent(t, nil, f, bottest.Comment(3, "rita", bottest.Podinfo))
	if n := len(f.Proposals()); n != 2 {
		t.Errorf("proposals = %d, want 2 (bob by name, carol by team)", n)
	}
	if !strings.Contains(reply, "limited to the users and teams") {
		t.Errorf("rita's reply = %q", reply)
	}
}

func TestBotCommentsAreIgnored(t *testing.T) {
	f := bottest.NewFake(nil)
	ev := bottest.Comment(1, "gitops-bot[bot]", bottest.Podinfo)
	ev.AuthorIsBot = true
	bottest.HandleEvent(t, nil, f, ev)
	if len(f.Replies()) != 0 || len(f.Reactions(forge.CommentRef{Thread: 7, ID: 1})) != 0 || len(f.Proposals()) != 0 {
		t.Error("the bot answered a bot")
	}
}

func TestCommentWithoutCommandIsIgnored(t *testing.T) {
	f := bottest.NewFake(nil)
	bottest.HandleEvent(t, nil, f, bottest.Comment(1, "alice", "LGTM, see `/deploy` docs\n> /deploy x"))
	if len(f.Replies()) != 0 || len(f.Reactions(forge.CommentRef{Thread: 7, ID: 1})) != 0 {
		t.Error("the bot answered a comment with no command")
	}
}

func TestTooManyCommands(t *testing.T) {
	f := bottest.NewFake(nil)
	reply := bottest.HandleEvent(t, nil, f, bottest.Comment(1, "alice", strings.Repeat("/help\n", command.MaxCommands+1)))
	if !strings.Contains(reply, "at most 5") {
		t.Errorf("reply = %q", reply)
	}
}

func TestInvalidConfigIsNamed(t *testing.T) {
	f := bottest.NewFake(map[string]string{config.Path: "provider: flux\nenvironments:\n  - name: staging\n    dirr: x\n"})
	reply := bottest.HandleEvent(t, nil, f, bottest.Comment(1, "alice", bottest.Podinfo))
	if len(f.Proposals()) != 0 {
		t.Fatal("proposed with an invalid config")
	}
	if !strings.Contains(reply, "line 4") || !strings.Contains(reply, "dirr") {
		t.Errorf("reply = %q", reply)
	}
}

func TestForgeFailuresAreReported(t *testing.T) {
	f := bottest.NewFake(nil)
	f.ReadErr = errors.New("502 bad gateway")
	reply := bottest.HandleEvent(t, nil, f, bottest.Comment(1, "alice", bottest.Podinfo))
	if !strings.Contains(reply, "could not read") || !strings.Contains(reply, "comment again to retry") {
		t.Errorf("reply = %q", reply)
	}

	f = bottest.NewFake(nil)
	f.ProposeErr = errors.New("422 protected branch")
	reply = bottest.HandleEvent(t, nil, f, bottest.Comment(1, "alice", bottest.Podinfo))
	if !strings.Contains(reply, "422 protected branch") || !strings.Contains(reply, "Nothing was changed") {
		t.Errorf("reply = %q", reply)
	}
}

// A comment handled twice (a redelivery after a restart): the reaction is
// already there, so the reply is edited in place, not posted again, and the
// proposal lands on the same branch.
func TestSameCommentTwiceRepliesOnce(t *testing.T) {
	f := bottest.NewFake(nil)
	bottest.HandleEvent(t, nil, f, bottest.Comment(1, "alice", bottest.Podinfo))
	bottest.HandleEvent(t, nil, f, bottest.Comment(1, "alice", bottest.Podinfo))
	if f.Posts() != 1 || len(f.Replies()) != 1 {
		t.Errorf("posts %d, replies %d; want one reply", f.Posts(), len(f.Replies()))
	}
	if len(f.PullRequests()) != 1 {
		t.Errorf("pull requests %d", len(f.PullRequests()))
	}
}

func TestUserTextCannotBreakOutOfMarkdown(t *testing.T) {
	f := bottest.NewFake(nil)
	// ("<!--" would hide the rest of the comment from its readers, and so
	// from the bot: TestParseCommentSkipsHTMLComments.)
	bottest.HandleEvent(t, nil, f, bottest.Comment(1, "alice", bottest.Podinfo+" --set 'x=```--> |'"))
	ps := f.Proposals()
	if len(ps) != 1 {
		t.Fatalf("proposals %d", len(ps))
	}
	m, ok, err := marker.Parse(ps[0].Body)
	if !ok || err != nil || !strings.Contains(m.Command, "```--> |") {
		t.Errorf("marker did not survive: %+v %v %v", m, ok, err)
	}
	if !strings.Contains(ps[0].Body, "````\n/deploy") {
		t.Errorf("the command is not fenced by a longer fence:\n%s", ps[0].Body)
	}
}

// Every command logs one line with who, where, what became of it, the
// error's text and kind, how long it took and the pull request it touched;
// deep code logs with the same request attributes.
func TestOneLogLinePerCommand(t *testing.T) {
	var buf bytes.Buffer
	b := bot.New(slog.New(slog.NewJSONHandler(&buf, nil)))
	f := bottest.NewFake(nil)
	ev := bottest.Comment(1, "alice", bottest.Podinfo+"\n/scale nope 2 --env staging\n/deploy")
	ev.DeliveryID = "d-42"
	bottest.HandleEvent(t, b, f, ev)

	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		m := map[string]any{}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == "command" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 3 {
		t.Fatalf("command lines: %v", lines)
	}
	for _, m := range lines {
		if m["delivery"] != "d-42" || m["repo"] != "acme/fleet" || m["host"] != "github" || m["thread"] != float64(7) || m["user"] != "alice" || m["duration"] == nil {
			t.Errorf("line lacks the request's attributes: %v", m)
		}
	}
	if m := lines[0]; m["verb"] != "deploy" || m["outcome"] != "ok" || m["pull_request"] != "https://forge.test/pull/100" || m["error"] != nil {
		t.Errorf("deploy: %v", m)
	}
	if m := lines[1]; m["outcome"] != "invalid" || m["kind"] != "invalid" || !strings.Contains(m["error"].(string), "no workload `nope`") {
		t.Errorf("scale: %v", m)
	}
	if m := lines[2]; m["outcome"] != "usage" || m["kind"] != "usage" || !strings.Contains(m["error"].(string), "missing APP") {
		t.Errorf("bare deploy: %v", m)
	}
}

// A closed issue, or a pull request closed without merging, gets a short
// reply and nothing else, unless the repository allows commands there; a
// merged pull request is where /rollback is given, so it is not closed.
func TestClosedThreads(t *testing.T) {
	f := bottest.NewFake(nil)
	ev := bottest.Comment(1, "alice", bottest.Podinfo)
	ev.Closed = true
	reply := bottest.HandleEvent(t, nil, f, ev)
	if len(f.Proposals()) != 0 || !strings.Contains(reply, "is closed, so I ran nothing") || strings.Contains(reply, "podinfo") {
		t.Errorf("closed issue: %d proposals, reply %q", len(f.Proposals()), reply)
	}

	f = bottest.NewFake(map[string]string{config.Path: "commandsOnClosed: true\n"})
	bottest.HandleEvent(t, nil, f, ev)
	if len(f.Proposals()) != 1 {
		t.Errorf("commandsOnClosed: %d proposals, want 1", len(f.Proposals()))
	}
}

// A repository config over its cap is refused, naming the file and the cap.
func TestHugeConfigIsRefused(t *testing.T) {
	f := bottest.NewFake(map[string]string{config.Path: "# padding\n" + strings.Repeat("#", config.MaxBytes)})
	reply := bottest.HandleEvent(t, nil, f, bottest.Comment(1, "alice", bottest.Podinfo))
	if len(f.Proposals()) != 0 || !strings.Contains(reply, ".gitops-bot.yaml") || !strings.Contains(reply, fmt.Sprint(config.MaxBytes)) {
		t.Errorf("%d proposals, reply %q", len(f.Proposals()), reply)
	}
}

// slowReplies is a host that takes its time to post a reply.
type slowReplies struct {
	*forgetest.Fake
	delay time.Duration
}

func (s slowReplies) Reply(ctx context.Context, r forge.Repo, m forge.Reply) error {
	time.Sleep(s.delay)
	return s.Fake.Reply(ctx, r, m)
}

// A command's duration is in seconds and covers all of it: the durations
// of a comment's commands add up to the time from its handling's start to
// the reply posted, the slow reply included.
func TestCommandDurationCoversTheComment(t *testing.T) {
	var buf bytes.Buffer
	b := bot.New(slog.New(slog.NewJSONHandler(&buf, nil)))
	host := slowReplies{Fake: bottest.NewFake(nil), delay: 300 * time.Millisecond}
	ev := bottest.Comment(1, "alice", bottest.Podinfo+"\n/help")
	began := time.Now()
	if err := b.HandleComment(context.Background(), host, ev); err != nil {
		t.Fatal(err)
	}
	took := time.Since(began).Seconds()
	var sum float64
	var last map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		m := map[string]any{}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if m["msg"] != "command" {
			continue
		}
		d, ok := m["duration"].(float64)
		if !ok || d < 0 || d > took {
			t.Errorf("duration %v is not seconds within the %.3fs the comment took", m["duration"], took)
		}
		sum, last = sum+d, m
	}
	if sum < 0.3 || sum > took+0.001 {
		t.Errorf("the durations add up to %.3fs; the comment took %.3fs, 0.3s of it the reply", sum, took)
	}
	if last == nil || last["replied"] != true {
		t.Errorf("the last command's line does not say the reply went out: %v", last)
	}
}
