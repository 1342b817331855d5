package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/forge/github/githubtest"
)

// A host that fails a fifth of its API calls the ways GitHub does (500,
// 502, 429 and secondary-limit 403s with Retry-After): every /deploy still
// opens its pull request and gets its reply, once, and no branch is left
// without a pull request.
func TestDeploysThroughAFailingHost(t *testing.T) {
	gh := githubtest.New(t, "Codertocat", "Hello-World", map[string]string{"README.md": "fleet\n", "clusters/staging/.keep": ""})
	gh.AddBranch("master", "main")
	gh.SetPermission("Codertocat", "write")
	_, srv := serveGitHub(t, gh, nil, func(c *serverConfig) {
		c.HostCalls.SecondaryWait, c.HostCalls.ErrorWait = 50*time.Millisecond, 20*time.Millisecond
		c.HostCalls.WritesPerMinute, c.HostCalls.WritesPerHour = 1e6, 1e6 // pacing has its own test
	})
	gh.Faults.FailFraction(0.2, 1, forgetest.ServerError, forgetest.BadGateway, forgetest.TooManyRequest, forgetest.SecondaryLimit)

	raw, err := os.ReadFile("../../forge/github/testdata/issue_comment/created.json")
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	json.Unmarshal(raw, &p) //nolint:errcheck // a file of the repository
	const commands = 50
	for i := range commands {
		webhook(t, srv.URL, "issue_comment", "issue_comment/created.json", map[string]any{
			"repository":   p["repository"],
			"comment.id":   1000 + i,
			"comment.body": fmt.Sprintf("/deploy web-%d --image ghcr.io/acme/web:1.4.%d --port 8080 --env staging", i, i),
		})
	}
	deadline := time.Now().Add(3 * time.Minute)
	replies := func() []githubtest.Comment {
		var out []githubtest.Comment
		for _, c := range gh.Comments(1) {
			if c.User != "Codertocat" {
				out = append(out, c)
			}
		}
		return out
	}
	for len(replies()) < commands && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // anything more that would come
	heads := map[string]int{}
	for _, pr := range gh.Pulls() {
		heads[pr.Head]++
	}
	if len(gh.Pulls()) != commands || len(heads) != commands {
		t.Errorf("%d pull requests on %d branches, want %d", len(gh.Pulls()), len(heads), commands)
	}
	if r := replies(); len(r) != commands {
		t.Errorf("%d replies, want %d", len(r), commands)
	}
	for _, c := range replies() {
		if !strings.Contains(c.Body, "Opened") && !strings.Contains(c.Body, "pull/") {
			t.Errorf("a reply that does not name its pull request:\n%s", c.Body)
		}
	}
	for branch := range gh.Git().Branches() {
		if strings.HasPrefix(branch, "gitops-bot/") && heads[branch] == 0 {
			t.Errorf("branch %s has no pull request", branch)
		}
	}
	t.Logf("%d faults injected", gh.Faults.Injected())
	if gh.Faults.Injected() < commands {
		t.Errorf("only %d faults injected", gh.Faults.Injected())
	}
}

// One failure at each step of a /deploy: a failure the host asks to retry
// is retried and the command lands; one that is an answer (422) leaves the
// reply saying exactly what exists.
func TestEachStepFailingOnce(t *testing.T) {
	const repo = "/repos/Codertocat/Hello-World"
	cases := []struct {
		name   string
		key    string
		fault  forgetest.Fault
		prs    int
		says   []string
		branch bool // a bot branch remains
	}{
		{"base branch 502", "GET " + repo + "/branches/master", forgetest.BadGateway, 1, []string{"Opened"}, true},
		{"tree 500", "POST " + repo + "/git/trees", forgetest.ServerError, 1, []string{"Opened"}, true},
		{"commit secondary limit", "POST " + repo + "/git/commits", forgetest.SecondaryLimit, 1, []string{"Opened"}, true},
		{"branch 429", "POST " + repo + "/git/refs", forgetest.TooManyRequest, 1, []string{"Opened"}, true},
		{"pull request 502", "POST " + repo + "/pulls", forgetest.BadGateway, 1, []string{"Opened"}, true},
		{"pull request refused", "POST " + repo + "/pulls", forgetest.Fault{Status: 422}, 0,
			[]string{"failed: opening the pull request", "the host answered 422", "Nothing was changed."}, false},
		{"labels refused", "POST " + repo + "/issues/1/labels", forgetest.Fault{Status: 422}, 1,
			[]string{"Opened", "But labelling it failed: the host answered 422", "The pull request is open"}, true},
		{"reply 502", "POST " + repo + "/issues/1/comments", forgetest.BadGateway, 1, []string{"Opened"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			gh := githubtest.New(t, "Codertocat", "Hello-World", map[string]string{
				"README.md": "fleet\n", "clusters/staging/.keep": "", ".gitops-bot.yaml": "labels: [deploy]\n"})
			gh.AddBranch("master", "main")
			gh.SetPermission("Codertocat", "write")
			_, srv := serveGitHub(t, gh, nil, func(c *serverConfig) {
				c.HostCalls.SecondaryWait, c.HostCalls.ErrorWait = 20*time.Millisecond, 10*time.Millisecond
				c.Mirrors.Disabled = true // every read through the API, where the faults are
			})
			gh.Faults.FailNext(c.key, c.fault)
			raw, _ := os.ReadFile("../../forge/github/testdata/issue_comment/created.json")
			var p map[string]any
			json.Unmarshal(raw, &p) //nolint:errcheck // a file of the repository
			webhook(t, srv.URL, "issue_comment", "issue_comment/created.json", map[string]any{
				"repository": p["repository"], "comment.body": "/deploy web --image ghcr.io/acme/web:1.4.2 --port 8080 --env staging",
			})
			var reply string
			eventually(t, "the reply", func() bool {
				for _, cm := range gh.Comments(1) {
					if cm.User != "Codertocat" {
						reply = cm.Body
						return true
					}
				}
				return false
			})
			if gh.Faults.Injected() != 1 {
				t.Errorf("the fault was not met (%d injected)", gh.Faults.Injected())
			}
			if len(gh.Pulls()) != c.prs {
				t.Errorf("%d pull requests, want %d", len(gh.Pulls()), c.prs)
			}
			for _, want := range c.says {
				if !strings.Contains(reply, want) {
					t.Errorf("the reply does not say %q:\n%s", want, reply)
				}
			}
			if strings.Contains(reply, "/api/v3") || strings.Contains(reply, "127.0.0.1") {
				t.Errorf("the reply shows an internal address:\n%s", reply)
			}
			left := false
			for b := range gh.Git().Branches() {
				left = left || strings.HasPrefix(b, "gitops-bot/")
			}
			if left != c.branch {
				t.Errorf("a bot branch remains: %v, want %v", left, c.branch)
			}
		})
	}
}

// BenchmarkBurstOfDeploys: 60 /deploy commands arrive at once at a host
// that enforces GitHub's secondary limit (80 content-creating requests a
// minute: refused with 403 beyond). The bot paces its writes under it.
// Reported: the time the burst takes to drain (every command answered),
// the content-creating requests per command, the commands per minute that
// sustains under 80 writes a minute and 500 an hour, and the host's
// refusals (want 0). Takes a few minutes: it runs at the real limits.
func BenchmarkBurstOfDeploys(b *testing.B) {
	for range b.N {
		gh := githubtest.New(b, "Codertocat", "Hello-World", map[string]string{"README.md": "fleet\n", "clusters/staging/.keep": ""})
		gh.AddBranch("master", "main")
		gh.SetPermission("Codertocat", "write")
		gh.EnforceWriteLimit(80, time.Minute)
		_, srv := serveGitHub(b, gh, nil)
		raw, _ := os.ReadFile("../../forge/github/testdata/issue_comment/created.json")
		var p map[string]any
		json.Unmarshal(raw, &p) //nolint:errcheck // a file of the repository
		const commands = 60
		start := time.Now()
		for i := range commands {
			webhook(b, srv.URL, "issue_comment", "issue_comment/created.json", map[string]any{
				"repository": p["repository"], "comment.id": 5000 + i,
				"comment.body": fmt.Sprintf("/deploy web-%d --image ghcr.io/acme/web:1.4.%d --port 8080 --env staging", i, i),
			})
		}
		for {
			n := 0
			for _, c := range gh.Comments(1) {
				if c.User != "Codertocat" {
					n++
				}
			}
			if n >= commands {
				break
			}
			if time.Since(start) > 20*time.Minute {
				b.Fatalf("%d of %d answered after 20 minutes", n, commands)
			}
			time.Sleep(200 * time.Millisecond)
		}
		drain := time.Since(start)
		writes := 0
		for _, r := range gh.Requests() {
			if r.Method != http.MethodGet {
				writes++
			}
		}
		perCommand := float64(writes) / commands
		b.ReportMetric(drain.Seconds(), "drain-s")
		b.ReportMetric(perCommand, "writes/command")
		b.ReportMetric(min(80/perCommand, 500/perCommand/60), "sustained-commands/min")
		b.ReportMetric(float64(gh.LimitHits()), "host-refusals")
		b.ReportMetric(float64(len(gh.Pulls())), "pull-requests")
	}
}

// Commands acknowledged and then cut short by a stop (GitHub answering
// slowly, the bot stopped mid-command) are resumed from the inbox by the
// next start on the same data directory: each completes, once.
func TestAcknowledgedCommandsSurviveARestart(t *testing.T) {
	gh := githubtest.New(t, "Codertocat", "Hello-World", map[string]string{"README.md": "fleet\n", "clusters/staging/.keep": ""})
	gh.AddBranch("master", "main")
	gh.SetPermission("Codertocat", "write")
	dir := t.TempDir()
	inDir := func(c *serverConfig) { c.DataDir = dir }
	_, srv, _, stop := startGitHub(t, gh, nil, inDir)
	gh.Faults.FailFraction(1, 1, forgetest.Fault{Delay: 300 * time.Millisecond}) // every call slow: work in flight
	raw, _ := os.ReadFile("../../forge/github/testdata/issue_comment/created.json")
	var p map[string]any
	json.Unmarshal(raw, &p) //nolint:errcheck // a file of the repository
	const commands = 10
	for i := range commands {
		webhook(t, srv.URL, "issue_comment", "issue_comment/created.json", map[string]any{
			"repository": p["repository"], "comment.id": 7000 + i,
			"comment.body": fmt.Sprintf("/deploy web-%d --image ghcr.io/acme/web:1.4.%d --port 8080 --env staging", i, i),
		})
	}
	time.Sleep(time.Second)
	stop() // all ten acknowledged, most not done
	before := len(gh.Pulls())
	if before == commands {
		t.Fatal("every command finished before the stop: nothing to resume")
	}

	gh.Faults.FailFraction(0, 0)
	_, _, logs, _ := startGitHub(t, gh, nil, inDir)
	eventually(t, "every command's pull request", func() bool { return len(gh.Pulls()) == commands })
	// Each delivery taken from the inbox says so, with its ID.
	if n := strings.Count(logs.String(), `msg="resuming a delivery accepted before and not done" host=github delivery=`); n == 0 || n > commands {
		t.Errorf("%d deliveries logged as resumed, of %d, %d of them without a pull request:\n%s", n, commands, commands-before, logs)
	}
	heads := map[string]int{}
	for _, pr := range gh.Pulls() {
		heads[pr.Head]++
	}
	if len(heads) != commands {
		t.Errorf("%d pull requests on %d branches", len(gh.Pulls()), len(heads))
	}
	eventually(t, "a reply to each", func() bool {
		n := 0
		for _, c := range gh.Comments(1) {
			if c.User != "Codertocat" && (strings.Contains(c.Body, "Opened") || strings.Contains(c.Body, "Updated")) {
				n++
			}
		}
		return n == commands
	})
	for _, c := range gh.Comments(1) {
		if c.User != "Codertocat" && !strings.Contains(c.Body, "Opened") && !strings.Contains(c.Body, "Updated") {
			t.Errorf("a reply that is not the command's result:\n%s", c.Body)
		}
	}
	t.Logf("%d of %d done before the stop", before, commands)
}

// Deliveries GitHub could not make while the bot was down (no answer, or
// 502 from the load balancer) are found in the App's deliveries and
// redelivered, once each, and their commands run; a delivery the bot took
// is not redelivered.
func TestCatchUpRedeliversWhatFailedWhileDown(t *testing.T) {
	gh := githubtest.New(t, "Codertocat", "Hello-World", map[string]string{"README.md": "fleet\n", "clusters/staging/.keep": ""})
	gh.AddBranch("master", "main")
	gh.SetPermission("Codertocat", "write")
	raw, _ := os.ReadFile("../../forge/github/testdata/issue_comment/created.json")
	comment := func(i int) []byte {
		var p map[string]any
		json.Unmarshal(raw, &p) //nolint:errcheck // a file of the repository
		p["installation"] = map[string]any{"id": 1}
		p["comment"].(map[string]any)["id"] = 8000 + i
		p["comment"].(map[string]any)["body"] = fmt.Sprintf("/deploy web-%d --image ghcr.io/acme/web:1.4.%d --port 8080 --env staging", i, i)
		b, _ := json.Marshal(p)
		return b
	}
	gh.AddDelivery("down-0", "issue_comment", comment(0), 0)   // no answer: the bot was down
	gh.AddDelivery("down-1", "issue_comment", comment(1), 502) // the load balancer had no bot behind it
	gh.AddDelivery("down-1", "issue_comment", comment(1), 502) // a second failed attempt of the same
	gh.AddDelivery("taken", "issue_comment", comment(2), 202)  // the bot took this one

	_, srv := serveGitHub(t, gh, nil, func(c *serverConfig) { c.CatchUp.Every = 200 * time.Millisecond })
	gh.HookURL, gh.HookSecret = srv.URL+"/api/github/hook", "s3cret"
	eventually(t, "the two lost commands' pull requests", func() bool { return len(gh.Pulls()) == 2 })
	time.Sleep(time.Second) // several more catch-ups
	redelivered := map[string]int{}
	for _, d := range gh.HookDeliveries() {
		if d.Redelivery {
			redelivered[d.GUID]++
			if d.Status != 202 {
				t.Errorf("a redelivery answered %d", d.Status)
			}
		}
	}
	if redelivered["down-0"] != 1 || redelivered["down-1"] != 1 || redelivered["taken"] != 0 {
		t.Errorf("redeliveries %v", redelivered)
	}
}

// BenchmarkSustainedDeliveries: 500 deliveries a second for 4 seconds, one
// in ten a /help command, against a GitHub that takes 100 ms to answer
// every call, the bot's write pacing lifted. Reported: the
// acknowledgement's p99, the deliveries refused (want 0), the fraction of
// commands answered and the seconds until all were.
func BenchmarkSustainedDeliveries(b *testing.B) {
	for range b.N {
		gh := githubtest.New(b, "Codertocat", "Hello-World", map[string]string{"README.md": "fleet\n"})
		gh.AddBranch("master", "main")
		gh.SetPermission("Codertocat", "write")
		gh.Faults.FailFraction(1, 1, forgetest.Fault{Delay: 100 * time.Millisecond})
		// The bot's own throughput: under GitHub's write limit the 400
		// reactions and replies alone would take five minutes (80 a minute).
		_, srv := serveGitHub(b, gh, nil, func(c *serverConfig) { c.HostCalls.WritesPerMinute, c.HostCalls.WritesPerHour = 1e6, 1e6 })
		raw, _ := os.ReadFile("../../forge/github/testdata/issue_comment/created.json")
		var p map[string]any
		json.Unmarshal(raw, &p) //nolint:errcheck // a file of the repository
		p["installation"] = map[string]any{"id": 1}
		body := func(i int) []byte {
			p["comment"].(map[string]any)["id"] = 20000 + i
			text := "Thanks, looks good to me."
			if i%10 == 0 {
				text = "/help"
			}
			p["comment"].(map[string]any)["body"] = text
			out, _ := json.Marshal(p)
			return out
		}
		const rate, seconds = 500, 4
		var mu sync.Mutex
		var lat []time.Duration
		refused := 0
		var wg sync.WaitGroup
		tick := time.NewTicker(time.Second / rate)
		start := time.Now()
		for i := range rate * seconds {
			<-tick.C
			payload := body(i)
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/github/hook", bytes.NewReader(payload))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-GitHub-Event", "issue_comment")
				req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("sustained-%d", i))
				req.Header.Set("X-Hub-Signature-256", githubtest.Sign("s3cret", payload))
				t0 := time.Now()
				resp, err := http.DefaultClient.Do(req)
				d := time.Since(t0)
				mu.Lock()
				defer mu.Unlock()
				lat = append(lat, d)
				if err != nil || resp.StatusCode != http.StatusAccepted {
					if refused == 0 {
						if err == nil {
							msg, _ := io.ReadAll(resp.Body)
							b.Logf("refused: %d %s", resp.StatusCode, msg)
						} else {
							b.Logf("refused: %v", err)
						}
					}
					refused++
				}
				if resp != nil {
					resp.Body.Close()
				}
			}()
		}
		tick.Stop()
		wg.Wait()
		commands := rate * seconds / 10
		for {
			n := 0
			for _, c := range gh.Comments(1) {
				if c.User != "Codertocat" {
					n++
				}
			}
			if n >= commands || time.Since(start) > 5*time.Minute {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		answered := 0
		for _, c := range gh.Comments(1) {
			if c.User != "Codertocat" {
				answered++
			}
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "ack-p99-ms")
		b.ReportMetric(float64(refused), "refused")
		b.ReportMetric(float64(answered)/float64(commands), "commands-answered-fraction")
		b.ReportMetric(time.Since(start).Seconds(), "drain-s")
	}
}
