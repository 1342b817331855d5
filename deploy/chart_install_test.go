package deploy_test

import (
	"reflect"
	"regexp"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var install = chartutil.ReleaseOptions{Name: "gitops-bot", Namespace: "gitops-bot", IsInstall: true}

func podAnnotations(t *testing.T, values string) map[string]string {
	t.Helper()
	a, _, _ := unstructured.NestedStringMap(byKind(render(t, values))["Deployment"].Object, "spec", "template", "metadata", "annotations")
	return a
}

// A changed Secret rolls the pods, as a changed ConfigMap does: the
// variables from envFrom are read only when a container starts.
func TestChartRollsOnASecretChange(t *testing.T) {
	before := podAnnotations(t, `github: {appID: "1", webhookSecret: one}`)
	after := podAnnotations(t, `github: {appID: "1", webhookSecret: two}`)
	if before["checksum/secret"] == "" || before["checksum/secret"] == after["checksum/secret"] {
		t.Errorf("the Secret's hash does not follow it: %v, then %v", before, after)
	}
	if before["checksum/config"] != after["checksum/config"] {
		t.Error("a secret reached the ConfigMap")
	}
	if _, ok := podAnnotations(t, `existingSecret: mine`)["checksum/secret"]; ok {
		t.Error("a hash of a Secret the chart does not make")
	}
}

// values.schema.json refuses what the chart would ignore or choke on,
// naming the value, before anything is rendered.
func TestChartSchemaRefusesUnknownAndMistypedValues(t *testing.T) {
	ch := loadChart(t)
	for values, want := range map[string]string{
		"replica: 2":                                 "replica",
		"replicas: two":                              "replicas",
		"logLevel: verbose":                          "logLevel",
		"persistence: {size: 10GB}":                  "persistence/size",
		"github: {appId: 1}":                         "appId",
		"config: {mirrors: {maxBytes: 1}, quee: {}}": "quee",
		"alerts: {rules: [{name: oom, match: [x], repo: a/b, env: prod, action: memroy}]}": "action",
		"crds: {install: yes-please}": "install",
	} {
		_, err := renderChart(ch, values, install)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want one naming %s", values, err, want)
		}
	}
	for name, values := range valueSets {
		if _, err := renderChart(ch, values, install); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The image is the release's own, the chart's appVersion, never latest.
func TestChartPinsTheImageToAppVersion(t *testing.T) {
	ch := loadChart(t)
	v := ch.Metadata.AppVersion
	if !regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`).MatchString(v) {
		t.Fatalf("appVersion %q: want a release's version", v)
	}
	containers, _, _ := unstructured.NestedSlice(byKind(render(t, ""))["Deployment"].Object, "spec", "template", "spec", "containers")
	if image := containers[0].(map[string]any)["image"]; image != "ghcr.io/gitops-bot/gitops-bot:"+v {
		t.Errorf("image %v, want the appVersion's", image)
	}
}

// The CRDs are templates, so an upgrade applies them (Helm never upgrades
// a chart's crds/ directory); they are kept on uninstall and are those of
// deploy/base.
func TestChartUpgradesItsCRDs(t *testing.T) {
	ch := loadChart(t)
	if len(ch.CRDObjects()) != 0 {
		t.Error("CRDs in crds/, which helm upgrade skips")
	}
	files, err := renderChart(ch, "", chartutil.ReleaseOptions{Name: "gitops-bot", Namespace: "gitops-bot", IsUpgrade: true, Revision: 2})
	if err != nil {
		t.Fatal(err)
	}
	crds := map[string]*unstructured.Unstructured{}
	for _, o := range objects(t, files["gitops-bot/templates/crds.yaml"]) {
		crds[o.GetName()] = o
		if o.GetAnnotations()["helm.sh/resource-policy"] != "keep" || o.GetLabels()["app.kubernetes.io/instance"] != "gitops-bot" {
			t.Errorf("%s: annotations %v, labels %v", o.GetName(), o.GetAnnotations(), o.GetLabels())
		}
	}
	base := build(t, "base")
	n := 0
	for _, o := range base {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		n++
		if c := crds[o.GetName()]; c == nil || !reflect.DeepEqual(c.Object["spec"], o.Object["spec"]) {
			t.Errorf("%s: the chart's differs from deploy/base's, or is missing", o.GetName())
		}
	}
	if n != 3 || len(crds) != n {
		t.Errorf("the upgrade renders %d CRDs, deploy/base has %d", len(crds), n)
	}
	off, err := renderChart(ch, "crds: {install: false}", install)
	if err != nil || strings.TrimSpace(off["gitops-bot/templates/crds.yaml"]) != "" {
		t.Errorf("crds.install false still renders CRDs (%v)", err)
	}
}

// The mirrors' cap leaves a fifth of the volume to the stores it does not
// count, and the emptyDir of the Kubernetes store is bounded too.
func TestChartSizesTheVolumeForMoreThanTheMirrors(t *testing.T) {
	def := byKind(render(t, ""))
	cfg, _, _ := unstructured.NestedString(def["ConfigMap"].Object, "data", "config.yaml")
	size, _, _ := unstructured.NestedString(def["PersistentVolumeClaim"].Object, "spec", "resources", "requests", "storage")
	if size != "10Gi" || !strings.Contains(cfg, "maxBytes: 8589934592\n") {
		t.Errorf("a 10Gi volume (%s) wants mirrors of 8Gi:\n%s", size, cfg)
	}
	rep := byKind(render(t, "replicas: 2\npersistence: {size: 4Gi}"))
	vols, _, _ := unstructured.NestedSlice(rep["Deployment"].Object, "spec", "template", "spec", "volumes")
	if limit, _, _ := unstructured.NestedString(vols[0].(map[string]any), "emptyDir", "sizeLimit"); limit != "4Gi" {
		t.Errorf("emptyDir: %v", vols[0])
	}
	cfg, _, _ = unstructured.NestedString(rep["ConfigMap"].Object, "data", "config.yaml")
	if !strings.Contains(cfg, "maxBytes: 3435973836\n") {
		t.Errorf("a 4Gi emptyDir wants mirrors of four fifths of it:\n%s", cfg)
	}
	_, err := renderChart(loadChart(t), "config: {mirrors: {maxBytes: 10737418240}}", install)
	if err == nil || !strings.Contains(err.Error(), "config.mirrors.maxBytes (10737418240) leaves less than a fifth of persistence.size (10Gi)") {
		t.Errorf("mirrors as big as the volume: err = %v", err)
	}
}

// NOTES read /readyz from the pod: a Service sends nothing to a pod that
// is not ready, which is when readiness's answer is wanted.
func TestChartNotesAskThePod(t *testing.T) {
	files, err := renderChart(loadChart(t), "", install)
	if err != nil {
		t.Fatal(err)
	}
	notes := files["gitops-bot/templates/NOTES.txt"]
	if !strings.Contains(notes, "kubectl -n gitops-bot port-forward deploy/gitops-bot 8080:8080") || !strings.Contains(notes, "curl -s http://localhost:8080/readyz") ||
		strings.Contains(notes, "services/") || strings.Contains(notes, "svc/") {
		t.Errorf("NOTES:\n%s", notes)
	}
}
