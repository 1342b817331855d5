package kustfile

import "testing"

func TestPatchFilesAndNames(t *testing.T) {
	f := Parse([]byte("resources: [../base/podinfo]\npatches:\n  - path: podinfo-values.yaml\n    target: {kind: HelmRelease}\n  - patch: |-\n      - op: add\npatchesStrategicMerge: [replicas.yaml]\npatchesJson6902:\n  - path: json.yaml\n"))
	got := f.PatchFiles("apps/staging")
	if len(got) != 3 || got[0] != "apps/staging/podinfo-values.yaml" || got[1] != "apps/staging/replicas.yaml" || got[2] != "apps/staging/json.yaml" {
		t.Errorf("PatchFiles = %v", got)
	}
	if !Is("a/Kustomization") || !Is("kustomization.yml") || Is("a/values.yaml") || len(In("a")) != 3 {
		t.Error("the three names")
	}
}

func TestAddResourceKeepsTheFile(t *testing.T) {
	src := "---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\n# what this cluster runs\nresources:\n    - flux-system\n    - apps.yaml # the apps\n\n"
	got, err := AddResource([]byte(src), "podinfo.yaml")
	want := "---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\n# what this cluster runs\nresources:\n    - flux-system\n    - apps.yaml # the apps\n    - podinfo.yaml\n\n"
	if err != nil || string(got) != want {
		t.Errorf("got %q, %v", got, err)
	}
	again, _ := AddResource(got, "./podinfo.yaml")
	if string(again) != string(got) {
		t.Error("a listed file was added again")
	}
}
