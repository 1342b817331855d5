package inbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

// The Kubernetes inbox on a real API server with the bot's Delivery CRD:
// three replicas given the same deliveries each take every one exactly
// once between them, and what one accepted the others see pending.
func TestKubeInboxSharedByReplicas(t *testing.T) {
	env, err := clustertest.StartWith(func(e *envtest.Environment) {
		e.CRDInstallOptions.Paths = append(e.CRDInstallOptions.Paths, "../../deploy/base/crd-deliveries.yaml")
	})
	if errors.Is(err, clustertest.ErrNoAssets) && os.Getenv("GITOPS_BOT_REQUIRE_ENVTEST") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Stop() })
	kube := kubernetes.NewForConfigOrDie(env.Config)
	kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gitops-bot"}}, metav1.CreateOptions{}) //nolint:errcheck // created once
	replica := func() *Kube { return &Kube{Dyn: dynamic.NewForConfigOrDie(env.Config), Namespace: "gitops-bot"} }
	replicas := []*Kube{replica(), replica(), replica()}
	ctx := context.Background()

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
	pending, err := replicas[1].Pending(ctx)
	if err != nil || len(pending) != 100 {
		t.Fatalf("pending: %d %v", len(pending), err)
	}
	if !bytes.Contains(pending[0].Payload, []byte(`"n"`)) || pending[0].Event != "issue_comment" {
		t.Errorf("a delivery read back: %+v", pending[0])
	}
	if err := replicas[2].Done(ctx, "github", "guid-7"); err != nil {
		t.Fatal(err)
	}
	if replicas[0].IsPending(ctx, "github", "guid-7") || !replicas[0].IsPending(ctx, "github", "guid-8") {
		t.Error("done or pending not seen by another replica")
	}
	if known, _ := replicas[1].Known(ctx, "github", "guid-7"); !known {
		t.Error("a handled delivery is forgotten at once")
	}
	if first, _ := replicas[1].Accept(ctx, Delivery{Host: "github", ID: "guid-7", Event: "issue_comment"}); first {
		t.Error("a handled delivery was accepted again")
	}
}
