package inbox

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/gitops-bot/gitops-bot/store"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// DeliveryGVR is the bot's own Delivery kind (deploy/base).
var DeliveryGVR = store.Deliveries

const (
	stateLabel = "gitops-bot.dev/state"
	doneAt     = "gitops-bot.dev/done-at"
)

// Kube keeps the inbox in the Kubernetes API of the cluster the bot runs
// in, as Delivery objects in its namespace: shared by every replica, kept
// by the cluster's own etcd. Accepting creates the object under a name
// derived from the host and delivery ID, so when two replicas are given
// the same delivery exactly one create succeeds and owns the work. The
// object names its holder; when the holder is lost (its Lease expired or
// handed back), another replica claims the delivery and runs it.
type Kube struct {
	Dyn       dynamic.Interface
	Namespace string
	Replicas  *store.Replicas
	now       func() time.Time

	mu        sync.Mutex
	lastSweep time.Time // handled deliveries past Remember are removed at most every sweepEvery
}

// sweepEvery spaces the removal of old handled deliveries: a list call per
// handled delivery would double the bot's API calls.
const sweepEvery = 10 * time.Minute

var _ Inbox = (*Kube)(nil)

// objectName: deterministic, a valid object name whatever the ID holds.
func objectName(host, id string) string { return store.Name(host, host+"/"+id) }

func (k *Kube) client() dynamic.ResourceInterface {
	return k.Dyn.Resource(DeliveryGVR).Namespace(k.Namespace)
}

func (k *Kube) clock() time.Time {
	if k.now != nil {
		return k.now()
	}
	return time.Now()
}

// Accept creates the delivery's object; false when it exists (another
// replica took it, or it was handled lately).
func (k *Kube) Accept(ctx context.Context, d Delivery) (bool, error) {
	if d.Accepted.IsZero() {
		d.Accepted = k.clock()
	}
	payload, err := store.Pack(d.Payload)
	if err != nil {
		return false, fmt.Errorf("keeping delivery %s: %w", d.ID, err) // ErrTooLarge
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": DeliveryGVR.GroupVersion().String(), "kind": "Delivery",
		"metadata": map[string]any{"name": objectName(d.Host, d.ID), "labels": map[string]any{stateLabel: "pending", store.HolderLabel: k.Replicas.Self}},
		"spec": map[string]any{"host": d.Host, "id": d.ID, "event": d.Event,
			"accepted": d.Accepted.UTC().Format(time.RFC3339Nano), "payload": payload},
	}}
	_, err = k.client().Create(ctx, obj, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("keeping delivery %s: %w", d.ID, err)
	}
	return true, nil
}

// Done marks the delivery handled (kept for Remember to drop late
// redeliveries) and, now and then, removes handled ones older than that.
func (k *Kube) Done(ctx context.Context, host, id string) error {
	now := k.clock()
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:"done"},"annotations":{%q:%q}}}`, stateLabel, doneAt, now.UTC().Format(time.RFC3339))
	if _, err := k.client().Patch(ctx, objectName(host, id), "application/merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	k.mu.Lock()
	due := now.Sub(k.lastSweep) >= sweepEvery
	if due {
		k.lastSweep = now
	}
	k.mu.Unlock()
	if !due {
		return nil
	}
	old, err := k.client().List(ctx, metav1.ListOptions{LabelSelector: stateLabel + "=done", Limit: 100})
	if err != nil {
		return nil // the sweep is best effort; the next Done tries again
	}
	for _, o := range old.Items {
		if t, err := time.Parse(time.RFC3339, o.GetAnnotations()[doneAt]); err == nil && now.Sub(t) > Remember {
			k.client().Delete(ctx, o.GetName(), metav1.DeleteOptions{}) //nolint:errcheck // best effort
		}
	}
	return nil
}

// Known: the delivery's object exists.
func (k *Kube) Known(ctx context.Context, host, id string) (bool, error) {
	_, err := k.client().Get(ctx, objectName(host, id), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// Claim: the delivery is pending and this replica holds it, claiming it
// when its holder is gone; of two replicas claiming it, one wins.
func (k *Kube) Claim(ctx context.Context, host, id string) bool {
	o, err := k.client().Get(ctx, objectName(host, id), metav1.GetOptions{})
	if err != nil || o.GetLabels()[stateLabel] != "pending" {
		return false
	}
	holder := o.GetLabels()[store.HolderLabel]
	if holder == k.Replicas.Self {
		return true
	}
	if ok, err := k.Replicas.MayTake(ctx, holder); err != nil || !ok {
		return false
	}
	labels := o.GetLabels()
	labels[store.HolderLabel] = k.Replicas.Self
	o.SetLabels(labels)
	_, err = k.client().Update(ctx, o, metav1.UpdateOptions{}) // at the version read: a conflict means another took it
	return err == nil
}

// Pending lists the pending deliveries this replica holds or may claim
// (their holder is gone), oldest first.
func (k *Kube) Pending(ctx context.Context) ([]Delivery, error) {
	sel, err := k.Replicas.Takeable(ctx, true)
	if err != nil {
		return nil, err
	}
	if sel != "" {
		sel = "," + sel
	}
	list, err := k.client().List(ctx, metav1.ListOptions{LabelSelector: stateLabel + "=pending" + sel})
	if err != nil {
		return nil, err
	}
	out := make([]Delivery, 0, len(list.Items))
	for _, o := range list.Items {
		s := func(f string) string { v, _, _ := unstructured.NestedString(o.Object, "spec", f); return v }
		d := Delivery{Host: s("host"), ID: s("id"), Event: s("event")}
		d.Accepted, _ = time.Parse(time.RFC3339Nano, s("accepted"))
		if d.Payload, err = store.Unpack(s("payload")); err != nil {
			return nil, fmt.Errorf("delivery %s: %w", o.GetName(), err)
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Accepted.Before(out[j].Accepted) })
	return out, nil
}
