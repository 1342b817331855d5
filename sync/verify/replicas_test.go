package verify

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gitops-bot/gitops-bot/store"
	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

var (
	storeOnce sync.Once
	storeCfg  *rest.Config
)

// kubeStore is the Kubernetes store of one replica, as the bot's user in
// namespace "gitops-bot"; its Lease lives until kill (a crash: not handed
// back, it expires) or the test's end.
func kubeStore(t *testing.T, name string) (s *KubeStore, kill func()) {
	t.Helper()
	storeOnce.Do(func() { storeCfg = clustertest.StoreConfig(t, env, "gitops-bot") })
	r := &store.Replicas{Kube: kubernetes.NewForConfigOrDie(storeCfg), Namespace: "gitops-bot", Self: name, Duration: 2 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	return &KubeStore{Dyn: dynamic.NewForConfigOrDie(storeCfg), Namespace: "gitops-bot", Replicas: r}, cancel
}

// Two replicas share the Kubernetes store; the one that started a
// verification is lost before the cluster applied the merge. The other
// takes the verification over and completes the same check run, once.
func TestPendingVerificationSurvivesItsReplica(t *testing.T) {
	h := newHarness(t)
	h.fluxSource()
	h.kustomization(ready(shaOld))
	storeA, killLease := kubeStore(t, "a-"+h.ns)
	storeB, _ := kubeStore(t, "b-"+h.ns)
	fast := func(s Store) func(*Options) {
		return func(o *Options) { o.Store, o.AdoptEvery = s, 200*time.Millisecond }
	}
	a, stopA := h.run(fast(storeA))
	b, _ := h.run(fast(storeB))
	if err := a.Start(context.Background(), h.request("flux", time.Minute)); err != nil {
		t.Fatal(err)
	}
	eventuallyTrue(t, "the first report", func() bool {
		r, ok := h.checks.Find(shaM, CheckName("staging"))
		return ok && strings.Contains(r.Summary, "does not contain the merge commit")
	})
	if b.Pending() != 0 {
		t.Fatal("a live replica's verification was taken over")
	}
	stopA()
	killLease()

	eventuallyTrue(t, "the other replica to take it over", func() bool { return b.Pending() == 1 })
	h.kustomization(ready(shaM))
	expect(t, h.done("staging"), "success")
	// The check is completed first, then the verification is removed.
	stored := func() bool {
		list, err := dynamic.NewForConfigOrDie(storeCfg).Resource(store.Verifications).Namespace("gitops-bot").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range list.Items {
			if key, _, _ := unstructured.NestedString(o.Object, "spec", "key"); key == h.request("flux", 0).Key() {
				return true
			}
		}
		return false
	}
	eventuallyTrue(t, "the completed verification to leave the store", func() bool { return !stored() })
}

func eventuallyTrue(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
