package clustertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gitops-bot/gitops-bot/deploy"
	"github.com/gitops-bot/gitops-bot/providers"
)

// ReaderConfig returns the config of a user bound only to the bot's shipped
// ClusterRole (deploy/base/rbac.yaml), so tests prove the bot needs no more.
func ReaderConfig(t testing.TB, env *envtest.Environment) *rest.Config {
	t.Helper()
	ctx := context.Background()
	user, err := env.AddUser(envtest.User{Name: "gitops-bot"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kube := kubernetes.NewForConfigOrDie(env.Config)
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(deploy.ReaderRBAC), 4096)
	var role rbacv1.ClusterRole
	if err := dec.Decode(&role); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.RbacV1().ClusterRoles().Create(ctx, &role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "gitops-bot-test-user"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "gitops-bot"}},
	}
	if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	return user.Config()
}

// StoreConfig returns the config of a user bound to the bot's shipped
// ClusterRole and to its store's Role (deploy/base/store-rbac.yaml) in
// namespace, which it creates: what the bot with store.kubernetes may do.
func StoreConfig(t testing.TB, env *envtest.Environment, namespace string) *rest.Config {
	t.Helper()
	cfg := ReaderConfig(t, env)
	ctx := context.Background()
	kube := kubernetes.NewForConfigOrDie(env.Config)
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(deploy.StoreRBAC), 4096)
	var role rbacv1.Role
	var binding rbacv1.RoleBinding
	if err := dec.Decode(&role); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&binding); err != nil {
		t.Fatal(err)
	}
	// As the bot sets it for its store: a replica's calls are not throttled
	// in the client (the API server's priority and fairness does that).
	cfg.QPS, cfg.Burst = 200, 400
	role.Namespace, binding.Namespace = namespace, namespace
	binding.Subjects = []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "gitops-bot"}}
	if _, err := kube.RbacV1().Roles(namespace).Create(ctx, &role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if _, err := kube.RbacV1().RoleBindings(namespace).Create(ctx, &binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	return cfg
}

// Objects writes objects and their status as an administrator (standing in
// for the controllers).
type Objects struct {
	Dyn dynamic.Interface
	T   testing.TB
}

// NewObjects returns an administrator's writer.
func NewObjects(t testing.TB, env *envtest.Environment) Objects {
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 1000, 2000 // client-go's default 5 per second would dominate the tests
	return Objects{Dyn: dynamic.NewForConfigOrDie(cfg), T: t}
}

var nsCounter atomic.Int64

// Namespace creates a namespace of its own for one test.
func (o Objects) Namespace() string {
	o.T.Helper()
	name := fmt.Sprintf("t%d", nsCounter.Add(1))
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}}
	if _, err := o.Dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		o.T.Fatal(err)
	}
	return name
}

// Create creates an object from YAML.
func (o Objects) Create(gvr schema.GroupVersionResource, doc string) *unstructured.Unstructured {
	o.T.Helper()
	u := &unstructured.Unstructured{}
	if err := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(doc)), 4096).Decode(&u.Object); err != nil && !errors.Is(err, io.EOF) {
		o.T.Fatal(err)
	}
	out, err := o.Dyn.Resource(gvr).Namespace(u.GetNamespace()).Create(context.Background(), u, metav1.CreateOptions{})
	if err != nil {
		o.T.Fatalf("creating %s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return out
}

// Update changes an object's spec with f, as a person editing it would
// (the API server bumps its generation).
func (o Objects) Update(gvr schema.GroupVersionResource, ns, name string, f func(u *unstructured.Unstructured)) *unstructured.Unstructured {
	o.T.Helper()
	var out *unstructured.Unstructured
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u, err := o.Dyn.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		f(u)
		out, err = o.Dyn.Resource(gvr).Namespace(ns).Update(context.Background(), u, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		o.T.Fatal(err)
	}
	return out
}

// SetStatus writes status as the controller does: through the status
// subresource for Flux; Argo CD's Application has no status subresource and
// its controller updates the object itself. status may use "$generation"
// for the object's current generation.
func (o Objects) SetStatus(gvr schema.GroupVersionResource, ns, name string, status map[string]any) {
	o.T.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u, err := o.Dyn.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		u.Object["status"] = withGeneration(status, u.GetGeneration())
		if gvr == providers.ApplicationGVR { // no status subresource: the controller updates the object
			_, err = o.Dyn.Resource(gvr).Namespace(ns).Update(context.Background(), u, metav1.UpdateOptions{})
			return err
		}
		_, err = o.Dyn.Resource(gvr).Namespace(ns).UpdateStatus(context.Background(), u, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		o.T.Fatalf("status of %s %s/%s: %v", gvr.Resource, ns, name, err)
	}
}

func withGeneration(v any, gen int64) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = withGeneration(x, gen)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = withGeneration(x, gen)
		}
		return s
	case string:
		if t == "$generation" {
			return gen
		}
	}
	return v
}
