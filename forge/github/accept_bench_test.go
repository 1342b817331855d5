package github_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/gitops-bot/gitops-bot/forge/github"
	"github.com/gitops-bot/gitops-bot/forge/hook"
	"github.com/gitops-bot/gitops-bot/forge/inbox"
	"github.com/gitops-bot/gitops-bot/store"
	"github.com/gitops-bot/gitops-bot/sync/clustertest"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// BenchmarkAcceptance: the time from a delivery to its 202, in memory and
// with the inbox (the delivery written first: to disk, or as an object in
// the Kubernetes API when the control plane is set up), for a comment with
// a command; and for one without a command, which is acknowledged without
// queue or write. Reported: p50 and p99.
func BenchmarkAcceptance(b *testing.B) {
	withCommand := edit(b, payload(b, "issue_comment/created.json"), map[string]any{"comment.body": "/status podinfo"})
	without := payload(b, "issue_comment/created.json")
	for _, c := range []struct {
		name    string
		durable bool
		body    []byte
		kube    bool
	}{{"command/in-memory", false, withCommand, false}, {"command/inbox", true, withCommand, false}, {"no-command/inbox", true, without, false},
		{"command/kubernetes", true, withCommand, true}} {
		b.Run(c.name, func(b *testing.B) {
			o := github.Options{Options: hook.Options{QueueSize: 1 << 16, Workers: 64, Context: context.Background()}}
			switch {
			case c.kube:
				o.Inbox = kubeInbox(b)
			case c.durable:
				store, err := inbox.Open(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				defer store.Close()
				o.Inbox = store
			}
			wh := newHook(b, discard{}, o)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				rec := deliver(wh, "issue_comment", fmt.Sprintf("%s-%d", c.name, i), c.body, true)
				lat = append(lat, time.Since(start))
				if rec.Code != http.StatusAccepted {
					b.Fatalf("status %d", rec.Code)
				}
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// kubeInbox is the Kubernetes inbox on a control plane of its own, as the
// bot's user; skipped without one.
func kubeInbox(b *testing.B) inbox.Inbox {
	env := clustertest.StartFor(b)
	cfg := clustertest.StoreConfig(b, env, "gitops-bot")
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	r := &store.Replicas{Kube: kubernetes.NewForConfigOrDie(cfg), Namespace: "gitops-bot", Self: "bench"}
	if err := r.Start(ctx); err != nil {
		b.Fatal(err)
	}
	return &inbox.Kube{Dyn: dynamic.NewForConfigOrDie(cfg), Namespace: "gitops-bot", Replicas: r}
}
