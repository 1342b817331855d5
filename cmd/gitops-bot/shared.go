package main

import (
	"fmt"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gitops-bot/gitops-bot/bot/alerts"
	"github.com/gitops-bot/gitops-bot/forge/inbox"
	"github.com/gitops-bot/gitops-bot/store"
	"github.com/gitops-bot/gitops-bot/sync/verify"
)

// sharedStore is the Kubernetes store (store.kubernetes): what several
// replicas share, in the bot's namespace of the cluster it runs in.
type sharedStore struct {
	replicas      *store.Replicas
	inbox         inbox.Inbox
	verifications verify.Store
	alerts        alerts.StateStore
}

// newSharedStore builds the store on rc for the replica named self (its
// pod name).
func newSharedStore(rc *rest.Config, namespace, self string) (*sharedStore, error) {
	rc = rest.CopyConfig(rc)
	// The store's calls are on the hot path of every command: the API
	// server's priority and fairness limits them, not a client default
	// of 5 a second.
	rc.QPS, rc.Burst = 100, 200
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("store.kubernetes: %w", err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("store.kubernetes: %w", err)
	}
	r := &store.Replicas{Kube: kube, Namespace: namespace, Self: store.Identity(self)}
	return &sharedStore{
		replicas:      r,
		inbox:         &inbox.Kube{Dyn: dyn, Namespace: namespace, Replicas: r},
		verifications: &verify.KubeStore{Dyn: dyn, Namespace: namespace, Replicas: r},
		alerts:        alerts.KubeState{Dyn: dyn, Namespace: namespace, Replicas: r},
	}, nil
}
