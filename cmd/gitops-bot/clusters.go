package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gitops-bot/gitops-bot/sync/cluster"
)

// clusters connects to the named clusters of the config and to the default
// one, found by client-go's usual rules: --kubeconfig, then KUBECONFIG, then
// in-cluster, then ~/.kube/config. No default cluster is not an error: the
// checks of environments that use it then say so.
func clusters(cfg *serverConfig, kubeconfig string) (cluster.Set, error) {
	out := cluster.Set{}
	for name, c := range cfg.Clusters {
		if name == "" {
			return nil, errors.New("clusters: a cluster needs a name")
		}
		rc, err := clusterRestConfig(c)
		if err != nil {
			return nil, fmt.Errorf("cluster %q: %w", name, err)
		}
		if out[name], err = cluster.New(name, rc); err != nil {
			return nil, err
		}
	}
	rc, err := defaultCluster(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("default cluster: %w", err)
	}
	if rc != nil {
		if out[""], err = cluster.New("", rc); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func clusterRestConfig(c clusterConfig) (*rest.Config, error) {
	if c.InCluster {
		return rest.InClusterConfig()
	}
	if c.Kubeconfig == "" {
		return nil, errors.New("set kubeconfig (and optionally context), or inCluster: true")
	}
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: c.Kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: c.Context}).ClientConfig()
}

func defaultCluster(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	if env := os.Getenv("KUBECONFIG"); env != "" {
		return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			&clientcmd.ClientConfigLoadingRules{Precedence: filepath.SplitList(env)}, nil).ClientConfig()
	}
	if rc, err := rest.InClusterConfig(); err == nil {
		return rc, nil
	}
	if home, err := os.UserHomeDir(); err == nil {
		path := filepath.Join(home, ".kube", "config")
		if _, err := os.Stat(path); err == nil {
			return clientcmd.BuildConfigFromFlags("", path)
		}
	}
	return nil, nil
}
