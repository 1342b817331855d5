package verbs_test

import (
	"strings"
	"testing"

	"github.com/gitops-bot/gitops-bot/bot/bottest"
)

// argoFleet is the Argo CD example fleet with a hand-written Deployment in
// production and podinfo deployed to staging as an Application of a chart.
func argoFleet(t *testing.T) map[string]string {
	f := bottest.Fleet(t, "argocd", map[string]string{
		"clusters/production/api.yaml": "# The API, hand-written.\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 3 # keep >= 3\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec:\n      containers:\n        - name: api\n          image: \"ghcr.io/acme/api:2.0.0\" # pinned\n",
	})
	bottest.Merged(t, f, podinfo) // an Application podinfo-staging with valuesObject
	return f.Files
}

func TestSetImage(t *testing.T) {
	t.Run("kustomize overlay", func(t *testing.T) {
		f := bottest.Fleet(t, "flux", nil)
		bottest.Merged(t, f, web)
		overlay := "apps/overlays/staging/web/kustomization.yaml"
		n := len(f.Proposals())
		bottest.Handle(t, f, "/set-image web ghcr.io/acme/web:1.4.3 --env staging")
		bottest.OnlyLinesChanged(t, f.Files[overlay], bottest.LastChange(t, f, n)[overlay], "newTag: 1.4.2", "newTag: 1.4.3")
		if f.Proposals()[n].Branch != "gitops-bot/set-image-web-staging" {
			t.Errorf("branch %s", f.Proposals()[n].Branch)
		}
	})
	t.Run("HelmRelease values, key added", func(t *testing.T) {
		f := bottest.Fleet(t, "flux", nil)
		bottest.Merged(t, f, podinfo) // HelmRelease podinfo with values {replicaCount: 2}
		file := "clusters/staging/podinfo.yaml"
		n := len(f.Proposals())
		bottest.Handle(t, f, "/set-image podinfo ghcr.io/stefanprodan/podinfo:6.7.1 --env staging")
		bottest.OnlyLinesChanged(t, f.Files[file], bottest.LastChange(t, f, n)[file], "    replicaCount: 2\n", "    replicaCount: 2\n    image:\n      repository: ghcr.io/stefanprodan/podinfo\n      tag: 6.7.1\n")
	})
	t.Run("plain Deployment, comments kept", func(t *testing.T) {
		f := bottest.NewFake(argoFleet(t))
		api := "clusters/production/api.yaml"
		n := len(f.Proposals())
		bottest.Handle(t, f, "/set-image api ghcr.io/acme/api:2.1.0 --env production")
		bottest.OnlyLinesChanged(t, f.Files[api], bottest.LastChange(t, f, n)[api], `"ghcr.io/acme/api:2.0.0" # pinned`, `"ghcr.io/acme/api:2.1.0" # pinned`)
	})
}

// A values file without the key gets it, at the top level too.
func TestSetImageAddsTheKeyToAValuesFile(t *testing.T) {
	f := bottest.Fleet(t, "flux", nil)
	bottest.Merged(t, f, web+" --format helm")
	values := "charts/web/values-staging.yaml"
	f.Files[values] = "# staging\nreplicaCount: 2\n"
	n := len(f.Proposals())
	bottest.Handle(t, f, "/set-image web ghcr.io/acme/web:1.5.0 --env staging")
	bottest.OnlyLinesChanged(t, f.Files[values], bottest.LastChange(t, f, n)[values], "replicaCount: 2\n", "replicaCount: 2\nimage:\n  tag: 1.5.0\n")
}

// An overlay without an images: entry gets one, for the image its base
// runs; an image from elsewhere sets newName too. The build shows it.
func TestSetImageAddsAnOverlayImagesEntry(t *testing.T) {
	f := bottest.Fleet(t, "flux", nil)
	bottest.Merged(t, f, web)
	overlay := "apps/overlays/staging/web/kustomization.yaml"
	f.Files[overlay] = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: web\nresources:\n  - ../../../base/web\n  - namespace.yaml\n"
	n := len(f.Proposals())
	bottest.Handle(t, f, "/set-image web registry.example.com/mirror/web:2.0.0 --env staging")
	bottest.OnlyLinesChanged(t, f.Files[overlay], bottest.LastChange(t, f, n)[overlay],
		"  - namespace.yaml\n", "  - namespace.yaml\nimages:\n  - name: ghcr.io/acme/web\n    newName: registry.example.com/mirror/web\n    newTag: 2.0.0\n")
}

// An Argo CD Application's Helm parameters win over its values: a value a
// parameter sets is changed there, or the change would not take effect.
func TestSetImageOnArgoHelmParameters(t *testing.T) {
	f := bottest.NewFake(argoFleet(t))
	file := "clusters/staging/podinfo.yaml"
	f.Files[file] = strings.Replace(f.Files[file], "      valuesObject:\n", "      parameters:\n        - name: image.tag\n          value: 6.7.0\n      valuesObject:\n", 1)
	if !strings.Contains(f.Files[file], "parameters:") {
		t.Fatalf("fixture:\n%s", f.Files[file])
	}
	bottest.Handle(t, f, "/set-image podinfo ghcr.io/stefanprodan/podinfo:6.7.1 --env staging")
	// The chart is not rendered here: the image's repository, which the
	// values do not name, is written under the usual key as well.
	bottest.OnlyLinesChanged(t, f.Files[file], bottest.LastChange(t, f, 0)[file], "          value: 6.7.0\n", "          value: 6.7.1\n",
		"        replicaCount: 2\n", "        replicaCount: 2\n        image:\n          repository: ghcr.io/stefanprodan/podinfo\n")
}

// An Argo CD Application of a chart in the repository merges its
// valueFiles in order: the change goes into the last one, which wins.
func TestSetImageOnArgoValueFiles(t *testing.T) {
	f := bottest.Fleet(t, "argocd", map[string]string{
		"guestbook/Chart.yaml":             "apiVersion: v2\nname: guestbook\nversion: 0.1.0\n",
		"guestbook/values.yaml":            "image:\n  repository: gcr.io/heptio-images/ks-guestbook-demo\n  tag: '0.1'\n",
		"guestbook/values-production.yaml": "# production\nreplicaCount: 3\n",
		"guestbook/templates/d.yaml":       "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: guestbook}\nspec:\n  replicas: {{ .Values.replicaCount | default 1 }}\n  selector: {matchLabels: {app: guestbook}}\n  template:\n    metadata: {labels: {app: guestbook}}\n    spec: {containers: [{name: guestbook, image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"}]}\n",
		"clusters/staging/guestbook.yaml":  "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: guestbook, namespace: argocd}\nspec:\n  project: default\n  source:\n    repoURL: https://github.com/acme/fleet\n    path: guestbook\n    helm:\n      valueFiles:\n        - values.yaml\n        - values-production.yaml\n  destination: {server: https://kubernetes.default.svc, namespace: guestbook}\n",
	})
	reply := bottest.Handle(t, f, "/set-image guestbook gcr.io/heptio-images/ks-guestbook-demo:0.2 --env staging")
	file := "guestbook/values-production.yaml"
	got := bottest.LastChange(t, f, 0)
	if len(got) != 1 {
		t.Fatalf("files %v; reply %s", keys(got), reply)
	}
	bottest.OnlyLinesChanged(t, f.Files[file], got[file], "replicaCount: 3\n", "replicaCount: 3\nimage:\n  tag: \"0.2\"\n")
}

// A workload with a sidecar: --container picks the container, for
// /set-image and /resources alike; a name it does not have is refused with
// the names it has.
func TestContainerFlag(t *testing.T) {
	api := "clusters/production/api.yaml"
	two := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 3\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec:\n      containers:\n        - name: api\n          image: ghcr.io/acme/api:2.0.0\n        - name: proxy\n          image: envoyproxy/envoy:v1.30.0\n          resources:\n            requests: {memory: 64Mi}\n"
	fleet := func() map[string]string {
		files := argoFleet(t)
		files[api] = two
		return files
	}
	t.Run("set-image", func(t *testing.T) {
		f := bottest.NewFake(fleet())
		n := len(f.Proposals())
		bottest.Handle(t, f, "/set-image api envoyproxy/envoy:v1.31.2 --container proxy --env production")
		bottest.OnlyLinesChanged(t, f.Files[api], bottest.LastChange(t, f, n)[api], "envoy:v1.30.0", "envoy:v1.31.2")
	})
	t.Run("resources", func(t *testing.T) {
		f := bottest.NewFake(fleet())
		n := len(f.Proposals())
		bottest.Handle(t, f, "/resources api --memory 128Mi --container proxy --env production")
		got := bottest.LastChange(t, f, n)[api]
		bottest.OnlyLinesChanged(t, f.Files[api], got, "requests: {memory: 64Mi}\n", "requests: {memory: 128Mi}\n            limits:\n              memory: 128Mi\n")
	})
	t.Run("unknown container", func(t *testing.T) {
		f := bottest.NewFake(fleet())
		n := len(f.Proposals())
		reply := bottest.Handle(t, f, "/set-image api envoyproxy/envoy:v1.31.2 --container envoy --env production")
		if len(f.Proposals()) != n {
			t.Fatalf("a pull request was opened for a container the workload does not have")
		}
		if !strings.Contains(reply, "no container `envoy`") || !strings.Contains(reply, "api, proxy") {
			t.Errorf("reply does not name the containers it has:\n%s", reply)
		}
	})
}
