package inbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/gitops-bot/gitops-bot/store"
	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

// The Kubernetes inbox on a real API server with the bot's Delivery CRD:
// three replicas given the same deliveries each take every one exactly
// once between them, and what one accepted the others see pending.
func TestKubeInboxSharedByReplicas(t *testing.T) {
	env := clustertest.StartFor(t)
	// As the bot's user: the store's Role is all it needs.
	cfg := clustertest.StoreConfig(t, env, "gitops-bot")
	kube := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	var stops []context.CancelFunc
	replica := func(name string) *Kube {
		life, stop := context.WithCancel(ctx)
		stops = append(stops, stop)
		r := &store.Replicas{Kube: kube, Namespace: "gitops-bot", Self: name}
		if err := r.Start(life); err != nil {
			t.Fatal(err)
		}
		return &Kube{Dyn: dynamic.NewForConfigOrDie(cfg), Namespace: "gitops-bot", Replicas: r}
	}
	replicas := []*Kube{replica("a"), replica("b"), replica("c")}
	t.Cleanup(func() {
		for _, s := range stops {
			s()
		}
	})

	// 100 deliveries, each given to all three replicas at once.
	var firsts atomic.Int64
	var wg sync.WaitGroup
	for i := range 100 {
		for _, r := range replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				first, err := r.Accept(ctx, Delivery{Host: "github", ID: fmt.Sprintf("guid-%d", i), Event: "issue_comment", Payload: []byte(fmt.Sprintf(`{"n": %d}`, i))})
				if err != nil {
					t.Error(err)
				}
				if first {
					firsts.Add(1)
				}
			}()
		}
	}
	wg.Wait()
	if n := firsts.Load(); n != 100 {
		t.Fatalf("%d acceptances of 100 deliveries given to three replicas", n)
	}
	held := map[string]int{}
	for _, r := range replicas {
		pending, err := r.Pending(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held[r.Replicas.Self] = len(pending)
		for _, d := range pending {
			if !r.Claim(ctx, d.Host, d.ID) {
				t.Errorf("%s cannot claim %s, which it holds", r.Replicas.Self, d.ID)
			}
		}
	}
	if held["a"]+held["b"]+held["c"] != 100 {
		t.Fatalf("each replica lists what it holds: %v, want 100 in all", held)
	}
	pending, _ := replicas[0].Pending(ctx)
	if len(pending) > 0 && (!bytes.Contains(pending[0].Payload, []byte(`"n"`)) || pending[0].Event != "issue_comment") {
		t.Errorf("a delivery read back: %+v", pending[0])
	}

	// Replica a stops and hands back its Lease: b and c see its deliveries
	// and, claiming them at once, take each exactly once.
	stops[0]()
	replicas[0].Replicas.Release(ctx)
	eventually(t, func() bool { p, _ := replicas[1].Pending(ctx); return len(p) == held["a"]+held["b"] })
	var claimed atomic.Int64
	for _, d := range pending {
		for _, r := range replicas[1:] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r.Claim(ctx, d.Host, d.ID) {
					claimed.Add(1)
				}
			}()
		}
	}
	wg.Wait()
	if int(claimed.Load()) != len(pending) {
		t.Errorf("%d claims of the %d deliveries a handed back, want one each", claimed.Load(), len(pending))
	}

	id := pending[0].ID
	if err := replicas[2].Done(ctx, "github", id); err != nil {
		t.Fatal(err)
	}
	if replicas[1].Claim(ctx, "github", id) || replicas[2].Claim(ctx, "github", id) {
		t.Error("a handled delivery was claimed")
	}
	if known, _ := replicas[1].Known(ctx, "github", id); !known {
		t.Error("a handled delivery is forgotten at once")
	}
	if first, _ := replicas[1].Accept(ctx, Delivery{Host: "github", ID: id, Event: "issue_comment"}); first {
		t.Error("a handled delivery was accepted again")
	}

	// GitHub's largest payload (25 MB) does not fit in one object: a
	// clear ErrTooLarge, which the receivers handle unkept.
	huge := make([]byte, 2<<20)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range huge {
		huge[i] = byte(rnd.Uint32())
	}
	if _, err := replicas[0].Accept(ctx, Delivery{Host: "github", ID: "huge", Event: "pull_request", Payload: huge}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a 2 MiB incompressible payload: %v, want ErrTooLarge", err)
	}
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	for range 200 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("not within 10s")
}
