// Package app writes an application kept in the GitOps repository: a
// Kustomize base with one overlay per environment, or a Helm chart with one
// values file per environment. The workload follows the usual hardening:
// probes, resource requests and a non-root, read-only security context.
package app

import (
	"fmt"
	"path"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/providers"
)

// servicePort is what other workloads call; the container keeps its own port.
const servicePort = 80

// Files returns the application's files in the request's format.
func Files(req providers.AppRequest) ([]providers.Manifest, error) {
	if req.Format == providers.FormatHelm {
		return chart(req)
	}
	return kustomize(req)
}

func labels(app string) map[string]string {
	return map[string]string{"app.kubernetes.io/name": app}
}

func deployment(req providers.AppRequest, replicas int32) *appsv1.Deployment {
	no, yes := false, true
	probe := func(delay int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:        corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")}},
			InitialDelaySeconds: delay, PeriodSeconds: 10,
		}
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: req.App, Labels: labels(req.App)},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels(req.App)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels(req.App)},
				Spec: corev1.PodSpec{
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   &yes,
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:           req.App,
						Image:          req.Image.String(),
						Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: req.Port, Protocol: corev1.ProtocolTCP}},
						ReadinessProbe: probe(5),
						LivenessProbe:  probe(15),
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
							Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
						},
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: &no,
							ReadOnlyRootFilesystem:   &yes,
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
					}},
				},
			},
		},
	}
}

func service(app string) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: app, Labels: labels(app)},
		Spec: corev1.ServiceSpec{
			Selector: labels(app),
			Ports:    []corev1.ServicePort{{Name: "http", Port: servicePort, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}},
		},
	}
}

func ingress(app, host string) *networkingv1.Ingress {
	prefix := networkingv1.PathTypePrefix
	return &networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: metav1.ObjectMeta{Name: app, Labels: labels(app)},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{
			Host: host,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: &prefix,
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
					Name: app, Port: networkingv1.ServiceBackendPort{Name: "http"},
				}},
			}}}},
		}}},
	}
}

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func objects(typed ...any) ([]providers.Object, error) {
	out := make([]providers.Object, 0, len(typed))
	for _, t := range typed {
		o, err := providers.ToObject(t)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// kustomize: base/{deployment,service,ingress,kustomization}.yaml and, per
// environment, an overlay with the namespace, the image tag and the replicas.
func kustomize(req providers.AppRequest) ([]providers.Manifest, error) {
	var out []providers.Manifest
	add := func(dir, name string, typed any) error {
		objs, err := objects(typed)
		if err != nil {
			return err
		}
		out = append(out, providers.Manifest{Path: path.Join(dir, name), Objects: objs})
		return nil
	}
	base := []string{"deployment.yaml", "service.yaml"}
	if err := add(req.Base, "deployment.yaml", deployment(req, 1)); err != nil {
		return nil, err
	}
	if err := add(req.Base, "service.yaml", service(req.App)); err != nil {
		return nil, err
	}
	if req.Host != "" {
		base = append(base, "ingress.yaml")
		if err := add(req.Base, "ingress.yaml", ingress(req.App, req.Host)); err != nil {
			return nil, err
		}
	}
	k, err := kustomization(kustypes.Kustomization{
		Resources: base,
		Labels:    []kustypes.Label{{Pairs: map[string]string{"app.kubernetes.io/part-of": req.App}}},
	})
	if err != nil {
		return nil, err
	}
	out = append(out, providers.Manifest{Path: path.Join(req.Base, "kustomization.yaml"), Raw: k})

	for _, e := range req.Envs {
		rel, err := relative(e.Overlay, req.Base)
		if err != nil {
			return nil, err
		}
		if err := add(e.Overlay, "namespace.yaml", namespace(req.RunsIn(e))); err != nil {
			return nil, err
		}
		k, err := kustomization(kustypes.Kustomization{
			Namespace: req.RunsIn(e),
			Resources: []string{"namespace.yaml", rel},
			Images:    []kustypes.Image{{Name: req.Image.Name, NewTag: req.Image.Tag}},
			Replicas:  []kustypes.Replica{{Name: req.App, Count: int64(req.Replicas)}},
		})
		if err != nil {
			return nil, err
		}
		out = append(out, providers.Manifest{Path: path.Join(e.Overlay, "kustomization.yaml"), Env: e.Name, Raw: k})
	}
	return out, nil
}

func kustomization(k kustypes.Kustomization) ([]byte, error) {
	k.APIVersion, k.Kind = kustypes.KustomizationVersion, kustypes.KustomizationKind
	return yaml.Marshal(k)
}

// relative is the path from directory from to directory to, both from the
// repository root, as kustomize resources want it.
func relative(from, to string) (string, error) {
	up := ""
	for dir := from; dir != "." && dir != ""; dir = path.Dir(dir) {
		if to == dir || len(to) > len(dir) && to[:len(dir)+1] == dir+"/" {
			return path.Join(up, to[len(dir):]), nil
		}
		up = path.Join(up, "..")
	}
	if up == "" {
		return "", fmt.Errorf("no path from %q to %q", from, to)
	}
	return path.Join(up, to), nil
}
