package alerts

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/gitops-bot/gitops-bot/store"
)

// KubeState keeps the state in one AlertState object in the bot's
// namespace, which is also the lock: a replica holds it by writing its
// name into it (at the version it read, so one of two wins) and lets go
// when it writes the state back. A lost holder's hold lapses with its
// replica Lease.
type KubeState struct {
	Dyn       dynamic.Interface
	Namespace string
	Replicas  *store.Replicas
}

const stateObject = "alerts"

// holdRetry: how often a replica waiting for the state looks again; alert
// notifications are few and handled in seconds.
const holdRetry = 250 * time.Millisecond

// Hold waits until no live replica holds the state, then holds it.
func (k KubeState) Hold(ctx context.Context) ([]byte, func(context.Context, []byte) error, error) {
	c := k.Dyn.Resource(store.AlertStates).Namespace(k.Namespace)
	for {
		obj, err := k.take(ctx, c)
		if err != nil {
			return nil, nil, err
		}
		if obj == nil {
			select {
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			case <-time.After(holdRetry):
				continue
			}
		}
		packed, _, _ := unstructured.NestedString(obj.Object, "spec", "state")
		var data []byte
		if packed != "" {
			if data, err = store.Unpack(packed); err != nil {
				return nil, nil, fmt.Errorf("alert state: %w", err)
			}
		}
		release := func(ctx context.Context, data []byte) error {
			packed, err := store.Pack(data)
			if err != nil {
				return err
			}
			unstructured.SetNestedField(obj.Object, packed, "spec", "state") //nolint:errcheck // spec is a map
			unstructured.SetNestedField(obj.Object, "", "spec", "holder")    //nolint:errcheck // spec is a map
			_, err = c.Update(ctx, obj, metav1.UpdateOptions{})
			if apierrors.IsConflict(err) {
				return errors.New("the alert state was taken by another replica meanwhile (this one was taken for lost); this notification's changes to it are not kept")
			}
			return err
		}
		return data, release, nil
	}
}

// take holds the object for this replica: nil when another live replica
// holds it or won the race.
func (k KubeState) take(ctx context.Context, c dynamic.ResourceInterface) (*unstructured.Unstructured, error) {
	self := k.Replicas.Self
	obj, err := c.Get(ctx, stateObject, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		obj = &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": store.APIVersion, "kind": "AlertState",
			"metadata": map[string]any{"name": stateObject},
			"spec":     map[string]any{"holder": self},
		}}
		out, err := c.Create(ctx, obj, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil, nil
		}
		return out, err
	}
	if err != nil {
		return nil, err
	}
	holder, _, _ := unstructured.NestedString(obj.Object, "spec", "holder")
	if holder != "" {
		if ok, err := k.Replicas.MayTake(ctx, holder); err != nil || !ok {
			return nil, err
		}
	}
	unstructured.SetNestedField(obj.Object, self, "spec", "holder") //nolint:errcheck // spec is a map
	out, err := c.Update(ctx, obj, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		return nil, nil
	}
	return out, err
}
