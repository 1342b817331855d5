package store

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// Replicas keeps this replica's Lease renewed and tells which replicas
// are alive: a replica is alive while its Lease is. A replica that stops
// cleanly deletes its Lease, so what it hands back is taken at once; one
// that is lost is taken over once its Lease expires.
type Replicas struct {
	Kube      kubernetes.Interface
	Namespace string
	Self      string        // this replica (Identity of its pod name)
	Duration  time.Duration // a Lease not renewed for this long is expired; default 30s
	Log       *slog.Logger
	Now       func() time.Time

	mu     sync.Mutex
	alive  map[string]bool
	listed time.Time
}

// aliveCache: claims and resumes ask often; the answer may be this old.
const aliveCache = time.Second

// forgetAfter: an expired Lease is removed this long after it expired.
const forgetAfter = time.Hour

func (r *Replicas) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Replicas) duration() time.Duration {
	if r.Duration > 0 {
		return r.Duration
	}
	return 30 * time.Second
}

func (r *Replicas) leaseName() string { return Name("gitops-bot-replica", r.Self) }

// Start renews this replica's Lease once (so nothing is held before it
// exists), then every third of its duration until ctx ends.
func (r *Replicas) Start(ctx context.Context) error {
	if err := r.renew(ctx); err != nil {
		return fmt.Errorf("replica lease: %w", err)
	}
	// Polled "until done", which never comes: it stops with ctx.
	go wait.PollUntilContextCancel(ctx, r.duration()/3, false, func(ctx context.Context) (bool, error) { //nolint:errcheck // ends with ctx
		if err := r.renew(ctx); err != nil && ctx.Err() == nil && r.Log != nil {
			r.Log.Error("renewing the replica lease", "err", err)
		}
		return false, nil
	})
	return nil
}

// Release deletes this replica's Lease, after its work has stopped: what
// it still holds is taken over at once instead of when the Lease expires.
func (r *Replicas) Release(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := r.Kube.CoordinationV1().Leases(r.Namespace).Delete(ctx, r.leaseName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) && r.Log != nil {
		r.Log.Warn("could not hand back the replica lease; others take over when it expires", "err", err)
	}
}

func (r *Replicas) renew(ctx context.Context) error {
	leases := r.Kube.CoordinationV1().Leases(r.Namespace)
	now := metav1.NewMicroTime(r.now())
	secs := int32(r.duration() / time.Second)
	l, err := leases.Get(ctx, r.leaseName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: r.leaseName(), Labels: map[string]string{ReplicaLabel: r.Self}},
			Spec:       coordv1.LeaseSpec{HolderIdentity: &r.Self, LeaseDurationSeconds: &secs, AcquireTime: &now, RenewTime: &now},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.RenewTime = &r.Self, &secs, &now
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	return err
}

// Alive lists the replicas whose Lease is current (this one always).
func (r *Replicas) Alive(ctx context.Context) (map[string]bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if r.alive != nil && now.Sub(r.listed) < aliveCache {
		return r.alive, nil
	}
	list, err := r.Kube.CoordinationV1().Leases(r.Namespace).List(ctx, metav1.ListOptions{LabelSelector: ReplicaLabel})
	if err != nil {
		return nil, err
	}
	alive := map[string]bool{r.Self: true}
	for _, l := range list.Items {
		s := l.Spec
		if s.HolderIdentity == nil || s.RenewTime == nil || s.LeaseDurationSeconds == nil {
			continue
		}
		until := s.RenewTime.Add(time.Duration(*s.LeaseDurationSeconds) * time.Second)
		switch {
		case now.Before(until):
			alive[*s.HolderIdentity] = true
		case now.Sub(until) > forgetAfter:
			// Every rollout leaves the old pods' Leases: remove them once
			// nothing can still name them (best effort, any replica).
			r.Kube.CoordinationV1().Leases(r.Namespace).Delete(ctx, l.Name, metav1.DeleteOptions{}) //nolint:errcheck // best effort
		}
	}
	r.alive, r.listed = alive, now
	return alive, nil
}

// Takeable is the label selector of the objects this replica may work on:
// those no other live replica holds (with own, also this one's; without,
// only those lost replicas left). A list by it leaves the others' work on
// the server instead of sending it all to be filtered here.
func (r *Replicas) Takeable(ctx context.Context, own bool) (string, error) {
	alive, err := r.Alive(ctx)
	if err != nil {
		return "", err
	}
	var not []string
	for name := range alive {
		if !own || name != r.Self {
			not = append(not, name)
		}
	}
	if len(not) == 0 {
		return "", nil
	}
	sort.Strings(not)
	return HolderLabel + " notin (" + strings.Join(not, ",") + ")", nil
}

// MayTake: an object held by holder may be worked on by this replica (it
// holds it, or its holder is gone).
func (r *Replicas) MayTake(ctx context.Context, holder string) (bool, error) {
	if holder == r.Self {
		return true, nil
	}
	alive, err := r.Alive(ctx)
	if err != nil {
		return false, err
	}
	return !alive[holder], nil
}
