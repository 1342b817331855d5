package github_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gitops-bot/gitops-bot/forge/hook"

	"github.com/gitops-bot/gitops-bot/bot"
	"github.com/gitops-bot/gitops-bot/forge/github"
	"github.com/gitops-bot/gitops-bot/forge/github/githubtest"
)

const deployCmd = "/deploy podinfo --chart https://stefanprodan.github.io/podinfo/podinfo --version 6.7.0 --env staging --set replicaCount=2"

// fleet is the fake repository of the real payload (Codertocat/Hello-World,
// default branch master), with Codertocat as a writer.
func fleet(t testing.TB, config string) *githubtest.Server {
	t.Helper()
	files := map[string]string{"README.md": "fleet\n"}
	// The environment directories the default layout expects.
	for _, env := range append([]string{"staging", "production"}, envNames(20)...) {
		files["clusters/"+env+"/.keep"] = ""
	}
	if config != "" {
		files[".gitops-bot.yaml"] = config
	}
	s := githubtest.New(t, "Codertocat", "Hello-World", files)
	s.AddBranch("master", "main")
	s.SetPermission("Codertocat", "write")
	return s
}

// waitFor polls the fake until cond holds: the webhook answers before the
// work is done, by design.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func deployHook(t testing.TB, s *githubtest.Server) http.Handler {
	t.Helper()
	wh, err := github.NewWebhook(clientCreator(t, s.APIURL()), bot.New(quiet), github.Options{Secret: secret, Options: hook.Options{Log: quiet}})
	if err != nil {
		t.Fatal(err)
	}
	return wh
}

func commentPayload(t testing.TB, id int64, body string) []byte {
	return edit(t, payload(t, "issue_comment/created.json"), map[string]any{"comment.body": body, "comment.id": id})
}

func TestDeployEndToEnd(t *testing.T) {
	s := fleet(t, "labels: [gitops-bot]\n")
	wh := deployHook(t, s)

	if rec := deliver(wh, "issue_comment", "d1", commentPayload(t, 11, deployCmd), true); rec.Code != http.StatusAccepted {
		t.Fatalf("status %d", rec.Code)
	}
	waitFor(t, "the reply", func() bool { return len(s.Comments(1)) == 1 })

	if !s.Reacted(11, "eyes") {
		t.Error("no eyes reaction")
	}
	pulls := s.Pulls()
	if len(pulls) != 1 || pulls[0].Head != "gitops-bot/deploy-podinfo-staging" || pulls[0].Base != "master" {
		t.Fatalf("pulls = %+v", pulls)
	}
	if !strings.Contains(pulls[0].Body, "<!-- gitops-bot:marker ") || !strings.Contains(pulls[0].Body, "@Codertocat") {
		t.Errorf("body = %s", pulls[0].Body)
	}
	content, ok := s.File("gitops-bot/deploy-podinfo-staging", "clusters/staging/podinfo.yaml")
	if !ok || !strings.Contains(content, "kind: HelmRelease") || !strings.Contains(content, "replicaCount: 2") {
		t.Errorf("file = %q", content)
	}
	reply := s.Comments(1)[0].Body
	if !strings.Contains(reply, "Opened #1") {
		t.Errorf("reply = %s", reply)
	}
	// A first command on this repository reads its config as a blob of the
	// tree it lists (the tree also serves the HelmRepository lookup), and
	// this repository's config asks for labels: one call each.
	calls := len(s.Requests())
	if calls > 11 {
		t.Errorf("%d API calls for a first /deploy with config and labels, want at most 11: %v", calls, keys(s.Requests()))
	}

	// The same command again updates the same branch and pull request.
	s.Reset()
	deliver(wh, "issue_comment", "d2", commentPayload(t, 12, deployCmd), true)
	waitFor(t, "the second reply", func() bool { return len(s.Comments(1)) == 2 })
	if len(s.Pulls()) != 1 || !strings.Contains(s.Comments(1)[1].Body, "Updated #1") {
		t.Errorf("pulls %d, reply %s", len(s.Pulls()), s.Comments(1)[1].Body)
	}
	if n := len(s.Requests()); n > 10 {
		t.Errorf("%d API calls for a repeated /deploy: %v", n, keys(s.Requests()))
	}
}

func TestDeployRefusedForReader(t *testing.T) {
	s := fleet(t, "")
	s.SetPermission("Codertocat", "read")
	wh := deployHook(t, s)
	deliver(wh, "issue_comment", "d1", commentPayload(t, 11, deployCmd), true)
	waitFor(t, "the reply", func() bool { return len(s.Comments(1)) == 1 })
	if !strings.Contains(s.Comments(1)[0].Body, "Sorry @Codertocat") || len(s.Pulls()) != 0 {
		t.Errorf("reply %s, pulls %d", s.Comments(1)[0].Body, len(s.Pulls()))
	}
	if s.Count("POST /repos/Codertocat/Hello-World/git/trees") != 0 {
		t.Error("a refused command wrote to the repository")
	}
}

// deployCalls runs /deploy to n environments (one file each) and returns the
// API calls it took; cold: as the first command the bot sees on the repository.
func deployCalls(t testing.TB, n int, cold bool) int {
	if cold {
		github.ResetCaches()
	}
	s := fleet(t, "")
	var envs []string
	for i := 0; i < n; i++ {
		envs = append(envs, fmt.Sprintf("--env e%02d", i))
	}
	cmd := "/deploy podinfo --chart https://stefanprodan.github.io/podinfo/podinfo --version 6.7.0 " + strings.Join(envs, " ")
	ev := commentEventFor(t, s, cmd)
	c := clientFor(t, s)
	if err := bot.New(quiet).HandleComment(context.Background(), c, ev); err != nil {
		t.Fatal(err)
	}
	if len(s.Pulls()) != 1 {
		t.Fatalf("no pull request: %v", s.Comments(1))
	}
	return len(s.Requests())
}

func envNames(n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, fmt.Sprintf("e%02d", i))
	}
	return out
}

func TestDeployCallCountDoesNotGrowWithFiles(t *testing.T) {
	for _, cold := range []bool{true, false} {
		two, twenty := deployCalls(t, 2, cold), deployCalls(t, 20, cold)
		if two != twenty || two > 10 {
			t.Errorf("cold=%v: %d calls for 2 files, %d for 20; want equal and at most 10", cold, two, twenty)
		}
	}
}

func BenchmarkDeployAPICalls(b *testing.B) {
	for _, cold := range []bool{true, false} {
		for _, n := range []int{2, 20} {
			b.Run(fmt.Sprintf("cold=%v/files=%d", cold, n), func(b *testing.B) {
				calls := 0
				for b.Loop() {
					calls = deployCalls(b, n, cold)
				}
				b.ReportMetric(float64(calls), "calls/deploy")
			})
		}
	}
}
