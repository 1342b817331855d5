// Package cluster holds the bot's connection to a Kubernetes API: shared
// informers of the Argo CD and Flux kinds, started on first need, and the
// answer to "which GitOps object applies this workload". Several consumers
// (the post-merge verifier, the day-2 owner lookup) share one connection.
package cluster

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// Cluster is one Kubernetes API the bot watches. It holds one shared
// informer per resource type, started the first time a verification needs
// that type and shared by all of them; the bot reads only from their caches.
type Cluster struct {
	Name    string
	dyn     dynamic.Interface // for the rare direct read (a workload's owner labels)
	factory dynamicinformer.DynamicSharedInformerFactory

	mu        sync.Mutex
	handlers  []func(Key)
	informers map[schema.GroupVersionResource]cache.SharedIndexInformer
	stop      chan struct{}
}

// Key names an object in a cluster.
type Key struct {
	Cluster   string
	Resource  schema.GroupVersionResource
	Namespace string
	Name      string
}

// New connects to a cluster. No request is made until an informer starts.
func New(name string, cfg *rest.Config) (*Cluster, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster %q: %w", name, err)
	}
	return &Cluster{
		Name: name,
		dyn:  dyn,
		// No resync: the bot reacts to changes; a periodic relist of
		// every object would only cost requests.
		factory:   dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0),
		informers: map[schema.GroupVersionResource]cache.SharedIndexInformer{},
		stop:      make(chan struct{}),
	}, nil
}

// Subscribe adds a handler called with the key of every object that an
// informer of this cluster adds, updates or deletes. Handlers must not
// block: they queue work.
func (c *Cluster) Subscribe(h func(Key)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handlers = append(c.handlers, h)
}

func (c *Cluster) subscribers() []func(Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.handlers
}

// Stop ends the cluster's watches.
func (c *Cluster) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
}

// Watch returns the informer of gvr, starting it if needed, once its cache
// has synced (or an error when it cannot sync within wait: the kind is not
// installed, or the bot may not list it).
func (c *Cluster) Watch(ctx context.Context, gvr schema.GroupVersionResource, wait time.Duration) (cache.SharedIndexInformer, error) {
	c.mu.Lock()
	inf, ok := c.informers[gvr]
	if !ok {
		inf = c.factory.ForResource(gvr).Informer()
		if err := inf.SetTransform(Trim); err != nil {
			c.mu.Unlock()
			return nil, err // only when already started, which a new informer is not
		}
		notify := func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			u, ok := obj.(*unstructured.Unstructured)
			if !ok {
				return
			}
			k := Key{Cluster: c.Name, Resource: gvr, Namespace: u.GetNamespace(), Name: u.GetName()}
			for _, h := range c.subscribers() {
				h(k)
			}
		}
		inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    notify,
			UpdateFunc: func(_, obj any) { notify(obj) },
			DeleteFunc: notify,
		})
		c.informers[gvr] = inf
		go inf.Run(c.stop)
	}
	c.mu.Unlock()
	if inf.HasSynced() {
		return inf, nil
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return nil, fmt.Errorf("cannot list %s in cluster %q yet (is the CRD installed, and may the bot list it?)", gvr.Resource, c.displayName())
	}
	return inf, nil
}

// Get reads one object from an informer's cache.
func (c *Cluster) Get(inf cache.SharedIndexInformer, namespace, name string) (*unstructured.Unstructured, bool) {
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	}
	obj, ok, err := inf.GetStore().GetByKey(key)
	if err != nil || !ok {
		return nil, false
	}
	u, ok := obj.(*unstructured.Unstructured)
	return u, ok
}

func (c *Cluster) displayName() string {
	if c.Name == "" {
		return "default"
	}
	return c.Name
}
