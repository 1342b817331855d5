package sync

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/sync/synctest"
)

var env *envtest.Environment

func TestMain(m *testing.M) { synctest.Main(m, &env) }

func TestSmoke(t *testing.T) {
	synctest.Need(t, env)
	dyn := dynamic.NewForConfigOrDie(env.Config)
	l, err := dyn.Resource(providers.KustomizationGVR).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(len(l.Items))
}
