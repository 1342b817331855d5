package cluster

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ErrNotInstalled: the cluster has no such kind (its CRD is not there),
// which is fine for a tool the cluster does not run.
var ErrNotInstalled = errors.New("not installed in the cluster")

// CanList checks, with one list of at most one object, that the bot
// reaches the cluster and may list gvr in every namespace, as its
// informers will. The error says which of these failed, in those terms.
func (c *Cluster) CanList(ctx context.Context, gvr schema.GroupVersionResource) error {
	_, err := c.dyn.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1})
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err):
		return fmt.Errorf("cluster %s: %s.%s: %w", c.displayName(), gvr.Resource, gvr.Group, ErrNotInstalled)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("cluster %s: the bot may not list %s.%s in all namespaces (its ClusterRole needs get, list and watch on them): %v",
			c.displayName(), gvr.Resource, gvr.Group, err)
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("cluster %s: the API server refused the bot's credentials (401): check the kubeconfig's user or the service account token", c.displayName())
	}
	return fmt.Errorf("cluster %s: cannot reach the API server: %v", c.displayName(), err)
}
