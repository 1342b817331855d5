package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/gitops-bot/gitops-bot/store"
)

// KubeStore keeps pending verifications as Verification objects in the
// bot's namespace of the cluster it runs in, shared by its replicas. Each
// object names the replica that works on it; when that replica is lost,
// another adopts it (Adopt), and the first one, if it was only cut off,
// finds out at its next write (ErrNotHeld) and lets go.
type KubeStore struct {
	Dyn       dynamic.Interface
	Namespace string
	Replicas  *store.Replicas

	mu       sync.Mutex
	versions map[string]string // key -> resourceVersion this replica last wrote or read
}

var _ Store = (*KubeStore)(nil)

func (k *KubeStore) client() dynamic.ResourceInterface {
	return k.Dyn.Resource(store.Verifications).Namespace(k.Namespace)
}

func (k *KubeStore) version(key string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.versions[key]
}

func (k *KubeStore) setVersion(key, rv string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.versions == nil {
		k.versions = map[string]string{}
	}
	if rv == "" {
		delete(k.versions, key)
	} else {
		k.versions[key] = rv
	}
}

func (k *KubeStore) object(st *State) (*unstructured.Unstructured, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	packed, err := store.Pack(b)
	if err != nil {
		return nil, fmt.Errorf("verification %s: %w", st.Request.Key(), err)
	}
	r := st.Request
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": store.APIVersion, "kind": "Verification",
		"metadata": map[string]any{"name": store.Name("verification", r.Key()), "labels": map[string]any{store.HolderLabel: k.Replicas.Self}},
		"spec": map[string]any{"key": r.Key(), "repo": r.Repo.Host + ":" + r.Repo.FullName(), "sha": r.SHA, "env": r.Env,
			"pullRequest": int64(r.PR), "state": packed},
	}}, nil
}

// Put writes st, held by this replica.
func (k *KubeStore) Put(ctx context.Context, st *State) error {
	key := st.Request.Key()
	obj, err := k.object(st)
	if err != nil {
		return err
	}
	rv := k.version(key)
	if rv == "" {
		// New here: a new request, which replaces whatever was pending
		// for the same merge and environment, wherever.
		out, err := k.client().Create(ctx, obj, metav1.CreateOptions{})
		if err == nil {
			k.setVersion(key, out.GetResourceVersion())
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return err
		}
		cur, err := k.client().Get(ctx, obj.GetName(), metav1.GetOptions{})
		if err != nil {
			return err
		}
		rv = cur.GetResourceVersion()
	} else if err := k.stillHeld(ctx, obj.GetName(), &rv); err != nil {
		return err
	}
	obj.SetResourceVersion(rv)
	out, err := k.client().Update(ctx, obj, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		// Written since this replica's last write: by another one, or
		// by this one from a request that raced. Held still: write again.
		if err := k.stillHeld(ctx, obj.GetName(), &rv); err != nil {
			return err
		}
		obj.SetResourceVersion(rv)
		out, err = k.client().Update(ctx, obj, metav1.UpdateOptions{})
	}
	if err != nil {
		return err
	}
	k.setVersion(key, out.GetResourceVersion())
	return nil
}

// stillHeld checks, when *rv is not the object's version, that this replica
// still holds the object, and sets *rv to its version.
func (k *KubeStore) stillHeld(ctx context.Context, name string, rv *string) error {
	cur, err := k.client().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return ErrNotHeld // finished elsewhere
	}
	if err != nil {
		return err
	}
	if cur.GetResourceVersion() != *rv && cur.GetLabels()[store.HolderLabel] != k.Replicas.Self {
		return ErrNotHeld
	}
	*rv = cur.GetResourceVersion()
	return nil
}

// Delete removes a finished verification, if this replica still holds it.
func (k *KubeStore) Delete(ctx context.Context, key string) error {
	name := store.Name("verification", key)
	rv := k.version(key)
	if rv == "" {
		if err := k.stillHeld(ctx, name, &rv); err != nil {
			return err
		}
	}
	err := k.client().Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &rv}})
	if apierrors.IsConflict(err) {
		if err := k.stillHeld(ctx, name, &rv); err != nil {
			k.setVersion(key, "")
			return err
		}
		err = k.client().Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &rv}})
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	k.setVersion(key, "")
	return nil
}

// All returns the verifications this replica holds and claims those of
// lost replicas.
func (k *KubeStore) All(ctx context.Context) ([]*State, error) { return k.collect(ctx, true) }

// Adopt claims the verifications of lost replicas.
func (k *KubeStore) Adopt(ctx context.Context) ([]*State, error) { return k.collect(ctx, false) }

func (k *KubeStore) collect(ctx context.Context, own bool) ([]*State, error) {
	sel, err := k.Replicas.Takeable(ctx, own)
	if err != nil {
		return nil, err
	}
	list, err := k.client().List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, err
	}
	var out []*State
	var bad []error
	for i := range list.Items {
		o := &list.Items[i]
		if o.GetLabels()[store.HolderLabel] != k.Replicas.Self {
			labels := o.GetLabels()
			if labels == nil {
				labels = map[string]string{}
			}
			labels[store.HolderLabel] = k.Replicas.Self
			o.SetLabels(labels)
			claimed, err := k.client().Update(ctx, o, metav1.UpdateOptions{})
			if err != nil {
				continue // another replica claimed it first, or it finished
			}
			o = claimed
		}
		packed, _, _ := unstructured.NestedString(o.Object, "spec", "state")
		st := &State{}
		b, err := store.Unpack(packed)
		if err == nil {
			err = json.Unmarshal(b, st)
		}
		if err != nil {
			bad = append(bad, fmt.Errorf("verification %s: %w", o.GetName(), err))
			continue
		}
		k.setVersion(st.Request.Key(), o.GetResourceVersion())
		out = append(out, st)
	}
	return out, errors.Join(bad...)
}
