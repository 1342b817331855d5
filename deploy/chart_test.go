package deploy_test

import (
	"reflect"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

const chartDir = "chart/gitops-bot"

// valueSets are the installs the tests render: the defaults, two
// replicas on the Kubernetes store with a ServiceMonitor and an Ingress,
// GitLab and alerts with an existing Secret.
var valueSets = map[string]string{
	"defaults": ``,
	"replicated": `
replicas: 2
github: {appID: "12345", webhookSecret: s3cret, privateKey: "-----BEGIN RSA PRIVATE KEY-----\n...\n"}
serviceMonitor: {enabled: true, labels: {release: prometheus}}
ingress: {enabled: true, className: nginx, host: gitops-bot.example.com, tls: [{secretName: gitops-bot-tls, hosts: [gitops-bot.example.com]}]}
resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 512Mi}}
status: {token: st4tus}
`,
	"gitlab-alerts": `
existingSecret: my-bot-secret
gitlab: {baseURL: "https://gitlab.example.com/api/v4", botUser: gitops-bot}
alerts:
  rules:
    - {name: outofsync, match: ['alertname="ArgoCdAppOutOfSync"'], repo: acme/fleet, env: staging, workloadLabel: name, action: scale, step: "1", max: "4"}
clusters:
  prod-eu: {kubeconfig: /etc/kubeconfigs/prod-eu}
config:
  queue: {workers: 16}
logLevel: debug
status: {disabled: true}
`,
}

// render renders the chart with the Helm SDK's engine for an install
// into the gitops-bot namespace, as `helm template --include-crds` does,
// and returns its objects.
func render(t *testing.T, values string) []*unstructured.Unstructured {
	t.Helper()
	ch := loadChart(t)
	files, err := renderChart(ch, values, chartutil.ReleaseOptions{Name: "gitops-bot", Namespace: "gitops-bot", IsInstall: true})
	if err != nil {
		t.Fatal(err)
	}
	docs := []string{}
	for _, crd := range ch.CRDObjects() {
		docs = append(docs, string(crd.File.Data))
	}
	for name, body := range files {
		if strings.HasSuffix(name, ".yaml") {
			docs = append(docs, body)
		}
	}
	return objects(t, strings.Join(docs, "\n---\n"))
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// renderChart renders every template, values checked against the
// chart's schema first as `helm install` and `helm upgrade` do.
func renderChart(ch *chart.Chart, values string, opts chartutil.ReleaseOptions) (map[string]string, error) {
	vals, err := chartutil.ReadValues([]byte(values))
	if err != nil {
		return nil, err
	}
	rv, err := chartutil.ToRenderValues(ch, vals, opts, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	return engine.Render(ch, rv)
}

func objects(t *testing.T, manifest string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(manifest, "\n---") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		if len(m) > 0 {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
	return out
}

func byKind(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	out := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		out[o.GetKind()] = o
	}
	return out
}

// helm lint passes on every value set, with nothing above an info.
func TestChartLints(t *testing.T) {
	for name, values := range valueSets {
		vals, _ := chartutil.ReadValues([]byte(values))
		l := lint.All(chartDir, vals, "gitops-bot", false)
		for _, m := range l.Messages {
			if m.Severity > support.InfoSev {
				t.Errorf("%s: %s", name, m)
			}
		}
	}
}

// What each value set renders, and that the chart's RBAC and CRDs are
// those of deploy/base.
func TestChartRenders(t *testing.T) {
	def := byKind(render(t, valueSets["defaults"]))
	if def["PersistentVolumeClaim"] == nil || def["PodDisruptionBudget"] != nil || def["ServiceMonitor"] != nil || def["Ingress"] != nil || def["Role"] != nil {
		t.Error("defaults: want a claim and no budget, ServiceMonitor, Ingress or store Role")
	}
	rep := byKind(render(t, valueSets["replicated"]))
	cfg, _, _ := unstructured.NestedString(rep["ConfigMap"].Object, "data", "config.yaml")
	if !strings.Contains(cfg, "namespace: gitops-bot") || rep["PersistentVolumeClaim"] != nil || rep["PodDisruptionBudget"] == nil || rep["Role"] == nil {
		t.Errorf("replicated: want the Kubernetes store, no claim, a budget:\n%s", cfg)
	}
	secret, _, _ := unstructured.NestedStringMap(rep["Secret"].Object, "stringData")
	if secret["GITHUB_APP_INTEGRATION_ID"] != "12345" || secret["GITHUB_APP_WEBHOOK_SECRET"] != "s3cret" || secret["GITOPS_BOT_STATUS_TOKEN"] != "st4tus" ||
		strings.Contains(cfg, "s3cret") || strings.Contains(cfg, "st4tus") {
		t.Errorf("secrets belong in the Secret, not the config: %v\n%s", secret, cfg)
	}
	paths, _, _ := unstructured.NestedSlice(rep["Ingress"].Object, "spec", "rules")
	if len(paths) != 1 || !strings.Contains(toYAML(t, paths), "/api/github/hook") || strings.Contains(toYAML(t, paths), "/metrics") {
		t.Errorf("ingress rules: %s", toYAML(t, paths))
	}
	gl := byKind(render(t, valueSets["gitlab-alerts"]))
	cfg, _, _ = unstructured.NestedString(gl["ConfigMap"].Object, "data", "config.yaml")
	for _, want := range []string{"baseURL: https://gitlab.example.com/api/v4", "name: outofsync", "prod-eu:", "workers: 16", "disabled: true"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
	if gl["Secret"] != nil || !strings.Contains(toYAML(t, gl["Deployment"].Object), "name: my-bot-secret") || !strings.Contains(toYAML(t, gl["Deployment"].Object), "- debug") {
		t.Error("existingSecret: the chart made a Secret, or the Deployment does not read the given one or the log level")
	}

	base := byKind(build(t, "base"))
	rules := func(o *unstructured.Unstructured) any {
		r, _, _ := unstructured.NestedSlice(o.Object, "rules")
		return r
	}
	if !reflect.DeepEqual(rules(def["ClusterRole"]), rules(base["ClusterRole"])) || !reflect.DeepEqual(rules(rep["Role"]), rules(base["Role"])) {
		t.Error("the chart's RBAC differs from deploy/base's")
	}
	crds := 0
	for _, o := range render(t, "") {
		if o.GetKind() == "CustomResourceDefinition" {
			crds++
		}
	}
	if crds != 3 {
		t.Errorf("%d CRDs rendered, want the store's 3", crds)
	}
}

func toYAML(t *testing.T, v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every object of every value set is accepted by a real API server
// (server-side apply, the namespace under the restricted Pod Security
// level). The ServiceMonitor's CRD is the Prometheus Operator's, so a
// stand-in of it is installed first.
func TestChartApplies(t *testing.T) {
	env := clustertest.StartFor(t)
	applier := newApplier(t, env)
	applier.apply(t, "monitoring", []*unstructured.Unstructured{serviceMonitorCRD(t)})
	for name, values := range valueSets {
		objs := append([]*unstructured.Unstructured{namespace("gitops-bot")}, render(t, values)...)
		applier.apply(t, name, objs)
	}
}

func namespace(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}}
}

func serviceMonitorCRD(t *testing.T) *unstructured.Unstructured {
	var m map[string]any
	err := yaml.Unmarshal([]byte(`
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: servicemonitors.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`), &m)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}
