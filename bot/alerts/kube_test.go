package alerts

import (
	"context"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/gitops-bot/gitops-bot/store"
	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

// The alert state in the Kubernetes store, shared by two replicas: one
// holds it at a time, each sees what the other wrote, and a lost holder's
// hold lapses with its Lease.
func TestKubeStateIsOneHolderAtATime(t *testing.T) {
	env := clustertest.StartFor(t)
	cfg := clustertest.StoreConfig(t, env, "gitops-bot")
	replica := func(name string) (KubeState, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		r := &store.Replicas{Kube: kubernetes.NewForConfigOrDie(cfg), Namespace: "gitops-bot", Self: name, Duration: 2 * time.Second}
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return KubeState{Dyn: dynamic.NewForConfigOrDie(cfg), Namespace: "gitops-bot", Replicas: r}, cancel
	}
	a, killA := replica("a")
	b, _ := replica("b")
	ctx := context.Background()

	data, release, err := a.Hold(ctx)
	if err != nil || len(data) != 0 {
		t.Fatalf("first hold: %q %v", data, err)
	}
	got := make(chan []byte)
	go func() {
		data, release, err := b.Hold(ctx)
		if err != nil {
			t.Error(err)
		}
		got <- data
		release(ctx, data) //nolint:errcheck // checked by the next hold
	}()
	select {
	case <-got:
		t.Fatal("b held the state while a did")
	case <-time.After(time.Second):
	}
	if err := release(ctx, []byte(`{"open":{"acme/fleet":1}}`)); err != nil {
		t.Fatal(err)
	}
	if data := <-got; string(data) != `{"open":{"acme/fleet":1}}` {
		t.Errorf("b read %q", data)
	}

	// a holds it and is lost: b waits for a's Lease to expire, then holds it.
	if _, _, err := a.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	killA()
	wait, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	start := time.Now()
	data, release, err = b.Hold(wait)
	if err != nil {
		t.Fatalf("the state of a lost holder was not taken over: %v", err)
	}
	if string(data) != `{"open":{"acme/fleet":1}}` {
		t.Errorf("b read %q after a was lost", data)
	}
	if err := release(ctx, data); err != nil {
		t.Error(err)
	}
	t.Logf("taken over %s after the holder was lost", time.Since(start).Round(100*time.Millisecond))
}
