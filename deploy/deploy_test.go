package deploy

import (
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

func TestBaseBuilds(t *testing.T) {
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), "base")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, r := range res.Resources() {
		kinds[r.GetKind()] = true
		cluster := r.GetKind() == "Namespace" || r.GetKind() == "ClusterRole" || r.GetKind() == "ClusterRoleBinding" || r.GetKind() == "CustomResourceDefinition"
		if !cluster && r.GetNamespace() != "gitops-bot" {
			t.Errorf("%s/%s is not in namespace gitops-bot", r.GetKind(), r.GetName())
		}
	}
	for _, k := range []string{"Namespace", "ServiceAccount", "Deployment", "Service", "ClusterRole", "ClusterRoleBinding"} {
		if !kinds[k] {
			t.Errorf("no %s in the base", k)
		}
	}
}
