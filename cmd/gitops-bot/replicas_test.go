package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/gitops-bot/gitops-bot/forge/forgetest"
	"github.com/gitops-bot/gitops-bot/forge/github/githubtest"
	"github.com/gitops-bot/gitops-bot/store"
	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

// replica is one serve process of several sharing the Kubernetes store.
type replica struct {
	url  string
	s    *server
	kill func() // as a crash: its work stops, its Lease is not handed back
}

// startReplica runs serve for the fake gh with the Kubernetes store in ns,
// as the bot's user (its ClusterRole and store Role, nothing more).
func startReplica(t testing.TB, gh *githubtest.Server, storeCfg *rest.Config, ns, name string, adjust ...func(*serverConfig)) *replica {
	t.Helper()
	sh, err := newSharedStore(storeCfg, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	sh.replicas.Duration = 2 * time.Second // a lost replica is noticed in seconds
	life, endLease := context.WithCancel(context.Background())
	if err := sh.replicas.Start(life); err != nil {
		t.Fatal(err)
	}
	s, srv, _, stop := startGitHub(t, gh, nil, append(adjust, func(c *serverConfig) {
		c.shared = sh
		c.CatchUp.Disabled = true
	})...)
	r := &replica{url: srv.URL, s: s, kill: func() { endLease(); stop() }}
	t.Cleanup(r.kill)
	return r
}

// command is a signed issue_comment delivery of "/deploy web-i".
func command(t testing.TB, i int) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../forge/github/testdata/issue_comment/created.json")
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	json.Unmarshal(raw, &p) //nolint:errcheck // a file of the repository
	p["installation"] = map[string]any{"id": 1}
	c := p["comment"].(map[string]any)
	c["id"] = 7100 + i
	c["body"] = fmt.Sprintf("/deploy web-%d --image ghcr.io/acme/web:1.4.%d --port 8080 --env staging", i, i)
	b, _ := json.Marshal(p)
	return b
}

// deliver posts an issue_comment body as GitHub would, under delivery ID id.
func deliver(url, id string, body []byte) (int, error) {
	return deliverEvent(url, "issue_comment", id, body)
}

// deliverEvent posts a signed delivery of event to serve's GitHub hook at
// url, and returns the status it answered.
func deliverEvent(url, event, id string, body []byte) (int, error) {
	req, _ := http.NewRequest(http.MethodPost, url+"/api/github/hook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", id)
	req.Header.Set("X-Hub-Signature-256", githubtest.Sign("s3cret", body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func fleet(t testing.TB) *githubtest.Server {
	gh := githubtest.New(t, "Codertocat", "Hello-World", map[string]string{"README.md": "fleet\n", "clusters/staging/.keep": ""})
	gh.AddBranch("master", "main")
	gh.SetPermission("Codertocat", "write")
	return gh
}

// settled waits until no delivery is pending in ns.
func settled(t testing.TB, storeCfg *rest.Config, ns string) {
	t.Helper()
	c := dynamic.NewForConfigOrDie(storeCfg).Resource(store.Deliveries).Namespace(ns)
	eventually(t, "no pending delivery", func() bool {
		l, err := c.List(context.Background(), metav1.ListOptions{LabelSelector: "gitops-bot.dev/state=pending"})
		return err == nil && len(l.Items) == 0
	})
}

// outcome checks that each of n commands ran exactly once: one commit, one
// pull request on its own branch, one reply.
func outcome(t *testing.T, gh *githubtest.Server, n int, commitsExact bool) {
	t.Helper()
	commits := 0
	for _, r := range gh.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/git/commits") {
			commits++
		}
	}
	if commitsExact && commits != n || commits < n {
		t.Errorf("%d commits for %d commands", commits, n)
	}
	heads := map[string]int{}
	for _, pr := range gh.Pulls() {
		heads[pr.Head]++
	}
	if len(gh.Pulls()) != n || len(heads) != n {
		t.Errorf("%d pull requests on %d branches for %d commands", len(gh.Pulls()), len(heads), n)
	}
	for i := range n {
		replies := 0
		for _, c := range gh.Comments(1) {
			if c.User != "Codertocat" && strings.Contains(c.Body, fmt.Sprintf("gitops-bot:reply:comment-%d ", 7100+i)) {
				replies++
			}
		}
		if replies != 1 {
			t.Errorf("command %d: %d replies, want 1", i, replies)
		}
	}
	for _, c := range gh.Comments(1) {
		if c.User != "Codertocat" && !strings.Contains(c.Body, "Opened") && !strings.Contains(c.Body, "Updated") {
			t.Errorf("a reply that is not a command's result:\n%s", c.Body)
		}
	}
}

// Two and three replicas are each given the same deliveries, then 1,000
// redeliveries of them spread as a load balancer would: every command
// runs once in all — one commit, one pull request, one reply.
func TestReplicasTakeEachDeliveryOnce(t *testing.T) {
	clustertest.Need(t, env)
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d replicas", n), func(t *testing.T) {
			ns := fmt.Sprintf("bot-once-%d", n)
			storeCfg := clustertest.StoreConfig(t, env, ns)
			gh := fleet(t)
			gh.Faults.FailFraction(1, 1, forgetest.Fault{Delay: 20 * time.Millisecond})
			var rs []*replica
			for i := range n {
				rs = append(rs, startReplica(t, gh, storeCfg, ns, fmt.Sprintf("%s-%d", ns, i)))
			}
			const commands = 5
			var wg sync.WaitGroup
			send := func(r *replica, i int) {
				defer wg.Done()
				code, err := deliver(r.url, fmt.Sprintf("%s-delivery-%d", ns, i), command(t, i))
				if err != nil || code != http.StatusAccepted {
					t.Errorf("delivery %d: %d %v", i, code, err)
				}
			}
			for i := range commands {
				for _, r := range rs {
					wg.Add(1)
					go send(r, i)
				}
			}
			wg.Wait()
			redeliveries := make(chan int)
			for range 16 {
				go func() {
					for k := range redeliveries {
						send(rs[k%n], k%commands)
					}
				}()
			}
			for k := range 1000 {
				wg.Add(1)
				redeliveries <- k
			}
			close(redeliveries)
			wg.Wait()
			eventually(t, "every pull request", func() bool { return len(gh.Pulls()) == commands })
			settled(t, storeCfg, ns)
			outcome(t, gh, commands, true)
		})
	}
}

// Deliveries split over three replicas; in each round one replica is lost
// at a random point of the commands in hand. Every accepted command
// completes exactly once, on another replica.
func TestReplicaLostMidCommand(t *testing.T) {
	clustertest.Need(t, env)
	rnd := rand.New(rand.NewPCG(15, 3))
	for round := range 3 {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			ns := fmt.Sprintf("bot-lost-%d", round)
			storeCfg := clustertest.StoreConfig(t, env, ns)
			gh := fleet(t)
			gh.Faults.FailFraction(1, 1, forgetest.Fault{Delay: 100 * time.Millisecond}) // commands take a second or two
			var rs []*replica
			for i := range 3 {
				rs = append(rs, startReplica(t, gh, storeCfg, ns, fmt.Sprintf("%s-%d", ns, i)))
			}
			const commands = 6
			for i := range commands {
				if code, err := deliver(rs[i%3].url, fmt.Sprintf("%s-delivery-%d", ns, i), command(t, i)); err != nil || code != http.StatusAccepted {
					t.Fatalf("delivery %d: %d %v", i, code, err)
				}
			}
			time.Sleep(time.Duration(rnd.IntN(1500)) * time.Millisecond)
			lost := rs[rnd.IntN(3)]
			inHand := lost.s.pending()
			lost.kill()
			eventually(t, "every pull request", func() bool { return len(gh.Pulls()) == commands })
			settled(t, storeCfg, ns)
			outcome(t, gh, commands, false)
			t.Logf("the lost replica had %d commands in hand", inHand)
		})
	}
}

// writeCounter counts the writes to the bot's own kinds and to Leases.
type writeCounter struct {
	next            http.RoundTripper
	objects, leases *atomic.Int64
}

func (w writeCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet {
		switch {
		case strings.Contains(r.URL.Path, "/"+store.Group+"/"):
			w.objects.Add(1)
		case strings.Contains(r.URL.Path, "/leases"):
			w.leases.Add(1)
		}
	}
	return w.next.RoundTrip(r)
}

// 60 /deploy commands given to one replica or spread over three, sharing
// the Kubernetes store, GitHub answering each call in 50 ms (its write
// pacing lifted: the bot's own throughput is measured). Reported: commands
// completed a second, the store's object writes per command, and the
// acknowledgement's p99.
func BenchmarkReplicas(b *testing.B) {
	clustertest.Need(b, env)
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			for it := range b.N {
				ns := fmt.Sprintf("bench-%d-%d", n, it)
				var objects, leases atomic.Int64
				cfg := rest.CopyConfig(clustertest.StoreConfig(b, env, ns))
				cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return writeCounter{rt, &objects, &leases} }
				gh := fleet(b)
				gh.Faults.FailFraction(1, 1, forgetest.Fault{Delay: 50 * time.Millisecond})
				var rs []*replica
				for i := range n {
					rs = append(rs, startReplica(b, gh, cfg, ns, fmt.Sprintf("%s-%d", ns, i), func(c *serverConfig) {
						c.HostCalls.WritesPerMinute, c.HostCalls.WritesPerHour = 1e6, 1e6
					}))
				}
				objects.Store(0)
				const commands = 60
				lat := make([]time.Duration, commands)
				start := time.Now()
				var wg sync.WaitGroup
				for i := range commands {
					wg.Add(1)
					go func() {
						defer wg.Done()
						t0 := time.Now()
						code, err := deliver(rs[i%n].url, fmt.Sprintf("%s-delivery-%d", ns, i), command(b, i))
						lat[i] = time.Since(t0)
						if err != nil || code != http.StatusAccepted {
							b.Errorf("delivery %d: %d %v", i, code, err)
						}
					}()
				}
				wg.Wait()
				for len(gh.Pulls()) < commands {
					if time.Since(start) > 5*time.Minute {
						b.Fatalf("%d of %d pull requests after 5 minutes", len(gh.Pulls()), commands)
					}
					time.Sleep(20 * time.Millisecond)
				}
				settled(b, cfg, ns)
				took := time.Since(start)
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				b.ReportMetric(commands/took.Seconds(), "commands/s")
				b.ReportMetric(float64(objects.Load())/commands, "object-writes/command")
				b.ReportMetric(float64(lat[commands*99/100].Microseconds())/1000, "ack-p99-ms")
				for _, r := range rs {
					r.kill()
				}
			}
		})
	}
}
