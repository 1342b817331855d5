package bot

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/bot/command"
	"github.com/gitops-bot/gitops-bot/bot/config"
	"github.com/gitops-bot/gitops-bot/bot/marker"
	"github.com/gitops-bot/gitops-bot/forge"
	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/providers/schema"
)

const podinfo = "/deploy podinfo --chart https://stefanprodan.github.io/podinfo/podinfo --version 6.7.0 --env staging --set replicaCount=2"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var repo = forge.Repo{Host: "github", Owner: "acme", Name: "fleet", DefaultBranch: "main"}

func newFake(files map[string]string) *forgetest.Fake {
	f := forgetest.New(files)
	f.Permissions["alice"] = forge.PermWrite
	f.Permissions["rita"] = forge.PermRead
	return f
}

func comment(id int64, user, body string) forge.CommentEvent {
	return forge.CommentEvent{Repo: repo, Thread: 7, CommentID: id, Author: user, Body: body}
}

func handle(t *testing.T, f *forgetest.Fake, ev forge.CommentEvent) string {
	t.Helper()
	if err := New(quiet).HandleComment(context.Background(), f, ev); err != nil {
		t.Fatalf("HandleComment: %v", err)
	}
	for _, r := range f.Replies() {
		if r.Key == "comment-"+strconv.FormatInt(ev.CommentID, 10) {
			return r.Body
		}
	}
	return ""
}

// docs splits a generated file into its objects.
func docs(t *testing.T, content []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, d := range strings.Split(string(content), "\n---\n") {
		m := map[string]any{}
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatalf("generated YAML does not parse: %v\n%s", err, d)
		}
		out = append(out, m)
	}
	return out
}

func TestDeployFluxOpensPullRequest(t *testing.T) {
	f := newFake(nil)
	reply := handle(t, f, comment(1, "alice", "Let's ship it.\n"+podinfo))

	if got := f.Reactions(forge.CommentRef{Thread: 7, ID: 1}); len(got) != 1 || got[0] != "eyes" {
		t.Errorf("reactions = %v, want [eyes]", got)
	}
	ps := f.Proposals()
	if len(ps) != 1 {
		t.Fatalf("proposals = %d, want 1", len(ps))
	}
	c := ps[0]
	if c.Branch != "gitops-bot/deploy-podinfo-staging" || c.Base != "main" {
		t.Errorf("branch %q base %q", c.Branch, c.Base)
	}
	if len(c.Files) != 1 || c.Files[0].Path != "clusters/staging/podinfo.yaml" {
		t.Fatalf("files = %+v", c.Files)
	}
	objs := docs(t, c.Files[0].Content)
	if len(objs) != 2 || objs[0]["kind"] != "HelmRepository" || objs[1]["kind"] != "HelmRelease" {
		t.Fatalf("objects = %v", objs)
	}
	for _, o := range objs {
		if err := schema.Validate(context.Background(), o); err != nil {
			t.Errorf("schema: %v", err)
		}
	}
	values := objs[1]["spec"].(map[string]any)["values"].(map[string]any)
	if values["replicaCount"] != float64(2) {
		t.Errorf("values = %v, want replicaCount 2", values)
	}
	m, ok, err := marker.Parse(c.Body)
	if !ok || err != nil {
		t.Fatalf("marker: ok=%v err=%v in\n%s", ok, err, c.Body)
	}
	if m.Requester != "alice" || m.Provider != "flux" || m.Command != podinfo || len(m.Objects) != 2 || m.Objects[1].Kind != "HelmRelease" || m.Objects[1].Namespace != "flux-system" {
		t.Errorf("marker = %+v", m)
	}
	if !strings.Contains(reply, "Opened #100") || !strings.Contains(reply, "clusters/staging/podinfo.yaml") {
		t.Errorf("reply = %q", reply)
	}
}

func TestDeployAgainUpdatesSamePullRequest(t *testing.T) {
	f := newFake(nil)
	handle(t, f, comment(1, "alice", podinfo))
	reply := handle(t, f, comment(2, "alice", podinfo))

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

func TestDeployArgoCD(t *testing.T) {
	for _, tc := range []struct{ name, config, flag string }{
		{"flag", "", " --provider argocd"},
		{"config", "provider: argocd\nenvironments:\n- name: staging\n  argocd: {namespace: gitops, project: web}\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			if tc.config != "" {
				files[config.Path] = tc.config
			}
			f := newFake(files)
			handle(t, f, comment(1, "alice", podinfo+tc.flag))
			ps := f.Proposals()
			if len(ps) != 1 {
				t.Fatalf("proposals = %d", len(ps))
			}
			objs := docs(t, ps[0].Files[0].Content)
			if len(objs) != 1 || objs[0]["kind"] != "Application" {
				t.Fatalf("objects = %v", objs)
			}
			if err := schema.Validate(context.Background(), objs[0]); err != nil {
				t.Error(err)
			}
			src := objs[0]["spec"].(map[string]any)["source"].(map[string]any)
			if src["chart"] != "podinfo" || src["repoURL"] != "https://stefanprodan.github.io/podinfo" || src["targetRevision"] != "6.7.0" {
				t.Errorf("source = %v", src)
			}
			if tc.config != "" {
				meta := objs[0]["metadata"].(map[string]any)
				if meta["namespace"] != "gitops" || objs[0]["spec"].(map[string]any)["project"] != "web" {
					t.Errorf("config not applied: %v", objs[0])
				}
			}
		})
	}
}

func TestDeployOCIChartUsesOCIRepository(t *testing.T) {
	f := newFake(nil)
	handle(t, f, comment(1, "alice", "/deploy podinfo --chart oci://ghcr.io/stefanprodan/charts/podinfo --version 6.7.0 --env staging"))
	ps := f.Proposals()
	if len(ps) != 1 {
		t.Fatalf("proposals = %d", len(ps))
	}
	objs := docs(t, ps[0].Files[0].Content)
	if objs[0]["kind"] != "OCIRepository" {
		t.Fatalf("first object %v", objs[0]["kind"])
	}
	ref := objs[1]["spec"].(map[string]any)["chartRef"].(map[string]any)
	if ref["kind"] != "OCIRepository" || ref["name"] != "podinfo" {
		t.Errorf("chartRef = %v", ref)
	}
}

func TestDeployValuesFileThenSet(t *testing.T) {
	f := newFake(map[string]string{"values/podinfo.yaml": "replicaCount: 5\nui:\n  color: '#34577c'\n  message: hi\n"})
	handle(t, f, comment(1, "alice", podinfo+" --values values/podinfo.yaml --set ui.message=hello"))
	ps := f.Proposals()
	if len(ps) != 1 {
		t.Fatalf("proposals = %d, replies %v", len(ps), f.Replies())
	}
	values := docs(t, ps[0].Files[0].Content)[1]["spec"].(map[string]any)["values"].(map[string]any)
	ui := values["ui"].(map[string]any)
	if values["replicaCount"] != float64(2) || ui["color"] != "#34577c" || ui["message"] != "hello" {
		t.Errorf("values = %v", values)
	}
}

func TestDeployRejectsBadInput(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"unknown flag", podinfo + " --replica 3", "unknown flag: --replica"},
		{"image flags with a chart", podinfo + " --port 8080", "--port, --replicas, --ingress and --format go with --image"},
		{"no app", "/deploy --chart https://x.io/c --version 1.0.0 --env staging", "missing APP"},
		{"two apps", "/deploy a b --chart https://x.io/c --version 1.0.0 --env staging", `unexpected argument "b"`},
		{"bad app name", "/deploy Pod_Info --chart https://x.io/c --version 1.0.0 --env staging", "APP \"Pod_Info\""},
		{"no chart", "/deploy a --version 1.0.0 --env staging", "--chart or --image is required"},
		{"chart not a URL", "/deploy a --chart podinfo --version 1.0.0 --env staging", "https:// or oci://"},
		{"chart with credentials", "/deploy a --chart https://u:p@x.io/c --version 1.0.0 --env staging", "no credentials"},
		{"no version", "/deploy a --chart https://x.io/c --env staging", "needs --version"},
		{"bad version", "/deploy a --chart https://x.io/c --version banana --env staging", "neither a version nor a semver range"},
		{"no env", "/deploy a --chart https://x.io/c --version 1.0.0", "--env is required"},
		{"bad env", "/deploy a --chart https://x.io/c --version 1.0.0 --env ../prod", "environment name"},
		{"bad provider", podinfo + " --provider jenkins", `--provider "jenkins"`},
		{"bad set", podinfo + " --set a.b", "--set a.b"},
		{"values escapes repo", podinfo + " --values ../../.github/workflows/x.yaml", `".." is not allowed`},
		{"values under .github", podinfo + " --values .github/workflows/x.yaml", "never writes under .github/"},
		{"values missing", podinfo + " --values nope.yaml", "no such file"},
		{"unbalanced quote", podinfo + " --set 'a=b", "EOF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(nil)
			reply := handle(t, f, comment(1, "alice", c.body))
			if len(f.Proposals()) != 0 {
				t.Fatalf("proposed a change for bad input")
			}
			if !strings.Contains(reply, c.want) {
				t.Errorf("reply does not contain %q:\n%s", c.want, reply)
			}
			if c.name != "bad provider" && !strings.Contains(reply, "Usage:") {
				t.Errorf("reply has no usage:\n%s", reply)
			}
		})
	}
}

func TestUnknownVerbGetsHelp(t *testing.T) {
	f := newFake(nil)
	reply := handle(t, f, comment(1, "alice", "/depoly podinfo"))
	if !strings.Contains(reply, "unknown command `/depoly`") || !strings.Contains(reply, "`/deploy`") {
		t.Errorf("reply = %q", reply)
	}
}

func TestHelpListsEveryVerbAndFlag(t *testing.T) {
	f := newFake(nil)
	f.PermissionErr = errors.New("help needs no permission check")
	reply := handle(t, f, comment(1, "rita", "/help"))
	for _, want := range []string{"/deploy APP [flags]", "--chart", "--version", "--env", "--set", "--values", "--provider", "--namespace", "/help"} {
		if !strings.Contains(reply, want) {
			t.Errorf("help lacks %q:\n%s", want, reply)
		}
	}
}

func TestReadOnlyUserIsRefused(t *testing.T) {
	f := newFake(nil)
	reply := handle(t, f, comment(1, "rita", podinfo))
	if len(f.Proposals()) != 0 {
		t.Fatal("a read-only user got a pull request")
	}
	if !strings.Contains(reply, "Sorry @rita") || !strings.Contains(reply, "need write access") {
		t.Errorf("reply = %q", reply)
	}
}

func TestAllowLists(t *testing.T) {
	cfg := "access:\n  minPermission: read\n  users: [Bob]\n  teams: [acme/platform]\n"
	f := newFake(map[string]string{config.Path: cfg})
	f.Permissions["bob"] = forge.PermRead
	f.Permissions["carol"] = forge.PermRead
	f.Teams = map[string][]string{"acme/platform": {"carol"}}

	handle(t, f, comment(1, "bob", podinfo))
	handle(t, f, comment(2, "carol", podinfo))
	reply := handle(t, f, comment(3, "rita", podinfo))
	if n := len(f.Proposals()); n != 2 {
		t.Errorf("proposals = %d, want 2 (bob by name, carol by team)", n)
	}
	if !strings.Contains(reply, "limited to the users and teams") {
		t.Errorf("rita's reply = %q", reply)
	}
}

func TestBotCommentsAreIgnored(t *testing.T) {
	f := newFake(nil)
	ev := comment(1, "gitops-bot[bot]", podinfo)
	ev.AuthorIsBot = true
	handle(t, f, ev)
	if len(f.Replies()) != 0 || len(f.Reactions(forge.CommentRef{Thread: 7, ID: 1})) != 0 || len(f.Proposals()) != 0 {
		t.Error("the bot answered a bot")
	}
}

func TestCommentWithoutCommandIsIgnored(t *testing.T) {
	f := newFake(nil)
	handle(t, f, comment(1, "alice", "LGTM, see `/deploy` docs\n> /deploy x"))
	if len(f.Replies()) != 0 || len(f.Reactions(forge.CommentRef{Thread: 7, ID: 1})) != 0 {
		t.Error("the bot answered a comment with no command")
	}
}

func TestTooManyCommands(t *testing.T) {
	f := newFake(nil)
	reply := handle(t, f, comment(1, "alice", strings.Repeat("/help\n", command.MaxCommands+1)))
	if !strings.Contains(reply, "at most 5") {
		t.Errorf("reply = %q", reply)
	}
}

func TestInvalidConfigIsNamed(t *testing.T) {
	f := newFake(map[string]string{config.Path: "provider: flux\nenvironments:\n  - name: staging\n    dirr: x\n"})
	reply := handle(t, f, comment(1, "alice", podinfo))
	if len(f.Proposals()) != 0 {
		t.Fatal("proposed with an invalid config")
	}
	if !strings.Contains(reply, "line 4") || !strings.Contains(reply, "dirr") {
		t.Errorf("reply = %q", reply)
	}
}

func TestUnknownEnvironment(t *testing.T) {
	f := newFake(map[string]string{config.Path: "environments:\n- name: production\n  dir: envs/prod\n"})
	reply := handle(t, f, comment(1, "alice", podinfo))
	if !strings.Contains(reply, `unknown environment "staging" (this repository has: production)`) {
		t.Errorf("reply = %q", reply)
	}
	handle(t, f, comment(2, "alice", strings.Replace(podinfo, "staging", "production", 1)))
	ps := f.Proposals()
	if len(ps) != 1 || ps[0].Files[0].Path != "envs/prod/podinfo.yaml" {
		t.Errorf("proposals = %+v", ps)
	}
}

func TestForgeFailuresAreReported(t *testing.T) {
	f := newFake(nil)
	f.ReadErr = errors.New("502 bad gateway")
	reply := handle(t, f, comment(1, "alice", podinfo))
	if !strings.Contains(reply, "could not read") || !strings.Contains(reply, "comment again to retry") {
		t.Errorf("reply = %q", reply)
	}

	f = newFake(nil)
	f.ProposeErr = errors.New("422 protected branch")
	reply = handle(t, f, comment(1, "alice", podinfo))
	if !strings.Contains(reply, "422 protected branch") || !strings.Contains(reply, "Nothing was changed") {
		t.Errorf("reply = %q", reply)
	}
}

func TestSeveralEnvironmentsOneBranch(t *testing.T) {
	f := newFake(nil)
	handle(t, f, comment(1, "alice", podinfo+" --env production --env staging"))
	ps := f.Proposals()
	if len(ps) != 1 || ps[0].Branch != "gitops-bot/deploy-podinfo-staging-production" || len(ps[0].Files) != 2 {
		t.Fatalf("proposals = %+v", ps)
	}
}

// A comment handled twice (a redelivery after a restart): the reaction is
// already there, so the reply is edited in place, not posted again, and the
// proposal lands on the same branch.
func TestSameCommentTwiceRepliesOnce(t *testing.T) {
	f := newFake(nil)
	handle(t, f, comment(1, "alice", podinfo))
	handle(t, f, comment(1, "alice", podinfo))
	if f.Posts() != 1 || len(f.Replies()) != 1 {
		t.Errorf("posts %d, replies %d; want one reply", f.Posts(), len(f.Replies()))
	}
	if len(f.PullRequests()) != 1 {
		t.Errorf("pull requests %d", len(f.PullRequests()))
	}
}

func TestUserTextCannotBreakOutOfMarkdown(t *testing.T) {
	f := newFake(nil)
	handle(t, f, comment(1, "alice", podinfo+" --set 'x=```--> <!-- |'"))
	ps := f.Proposals()
	if len(ps) != 1 {
		t.Fatalf("proposals %d", len(ps))
	}
	m, ok, err := marker.Parse(ps[0].Body)
	if !ok || err != nil || !strings.Contains(m.Command, "```--> <!-- |") {
		t.Errorf("marker did not survive: %+v %v %v", m, ok, err)
	}
	if !strings.Contains(ps[0].Body, "````\n/deploy") {
		t.Errorf("the command is not fenced by a longer fence:\n%s", ps[0].Body)
	}
}
