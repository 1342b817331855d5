package clustertest

import (
	"context"
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

const sentDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
        env: [{name: A, value: "1"}]
      - name: sidecar
        image: busybox:1.36
`

// What a server-side apply sent comes back without the API server's
// defaults (strategy, terminationMessagePath, protocol, ...), and the
// object as the API server keeps it has them.
func TestAppliedServerSide(t *testing.T) {
	e := StartFor(t)
	objs := NewObjects(t, e)
	body, err := yaml.YAMLToJSON([]byte(sentDeployment))
	if err != nil {
		t.Fatal(err)
	}
	var sentObj unstructured.Unstructured // numbers as the API machinery decodes them
	if err := sentObj.UnmarshalJSON(body); err != nil {
		t.Fatal(err)
	}
	sent := sentObj.Object
	gvr := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	live, err := objs.Dyn.Resource(gvr).Namespace("default").Patch(context.Background(), "web", types.ApplyPatchType, body,
		metav1.PatchOptions{FieldManager: "kustomize-controller"})
	if err != nil {
		t.Fatal(err)
	}
	if _, has, _ := unstructured.NestedFieldNoCopy(live.Object, "spec", "strategy"); !has {
		t.Fatal("the API server set no default strategy: the test proves nothing")
	}
	// Another manager's change is not the applier's.
	live, err = objs.Dyn.Resource(gvr).Namespace("default").Patch(context.Background(), "web", types.MergePatchType,
		[]byte(`{"metadata": {"annotations": {"touched-by": "hpa"}}}`), metav1.PatchOptions{FieldManager: "someone-else"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Applied(live, "kustomize-controller")
	if err != nil {
		t.Fatal(err)
	}
	// The one default that stays: the port is named by its key fields.
	ports := []any{map[string]any{"containerPort": int64(80), "protocol": "TCP"}}
	containers, _, _ := unstructured.NestedSlice(sent, "spec", "template", "spec", "containers")
	containers[0].(map[string]any)["ports"] = ports
	unstructured.SetNestedSlice(sent, containers, "spec", "template", "spec", "containers") //nolint:errcheck // a path of maps
	if g, w := jsonOf(got.Object), jsonOf(sent); g != w {
		t.Errorf("applied:\n%s\nwant what was sent:\n%s", g, w)
	}
	if _, err := Applied(live, "argocd-controller"); err == nil {
		t.Error("a manager that applied nothing: no error")
	}
}

// Client-side apply (Argo CD's default) keeps what it sent in an annotation.
func TestAppliedClientSide(t *testing.T) {
	live := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "c", "namespace": "default", "uid": "x", "annotations": map[string]any{
			"kubectl.kubernetes.io/last-applied-configuration": `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"default"},"data":{"a":"1"}}`,
		}},
		"data": map[string]any{"a": "1"},
	}}
	got, err := Applied(live, "argocd-controller")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c", "namespace": "default"}, "data": map[string]any{"a": "1"}}
	if !equality.Semantic.DeepEqual(got.Object, want) {
		t.Errorf("applied %v, want %v", got.Object, want)
	}
}

// jsonOf is an object as JSON with sorted keys: numbers compare by value,
// whichever Go type decoded them.
func jsonOf(obj map[string]any) string {
	b, _ := json.Marshal(obj)
	return string(b)
}
