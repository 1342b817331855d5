package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

var env *envtest.Environment

func TestMain(m *testing.M) { clustertest.Main(m, &env) }

// Several consumers share one connection: each subscriber hears every
// change of the objects the informers watch.
func TestSubscribersShareOneCluster(t *testing.T) {
	clustertest.Need(t, env)
	c, err := New("", clustertest.ReaderConfig(t, env))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	var mu sync.Mutex
	heard := map[string][]Key{}
	for _, name := range []string{"verifier", "owners"} {
		c.Subscribe(func(k Key) {
			mu.Lock()
			defer mu.Unlock()
			heard[name] = append(heard[name], k)
		})
	}
	if _, err := c.Watch(context.Background(), providers.KustomizationGVR, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	objs := clustertest.NewObjects(t, env)
	ns := objs.Namespace()
	objs.Create(providers.KustomizationGVR, fmt.Sprintf(`{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": {"name": "apps", "namespace": %q}, "spec": {"interval": "10m", "path": "./apps", "prune": true,
		"sourceRef": {"kind": "GitRepository", "name": "fleet"}}}`, ns))
	want := Key{Cluster: "", Resource: providers.KustomizationGVR, Namespace: ns, Name: "apps"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		done := contains(heard["verifier"], want) && contains(heard["owners"], want)
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every subscriber heard the new Kustomization: %v", heard)
		}
		time.Sleep(10 * time.Millisecond)
	}
	inf, _ := c.Watch(context.Background(), providers.KustomizationGVR, time.Second)
	if u, ok := c.Get(inf, ns, "apps"); !ok || u.GetName() != "apps" {
		t.Error("the cache does not hold the Kustomization")
	}
}

func contains(keys []Key, k Key) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}
