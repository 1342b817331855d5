package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-bot/gitops-bot/forge/github/githubtest"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/chartrender/chartrendertest"
	"github.com/gitops-bot/gitops-bot/sync/clustertest"
	"github.com/gitops-bot/gitops-bot/sync/fluxtest"
)

// The real Flux controllers reconcile real merges of a repository served
// over HTTP by the fake GitHub (git's own http-backend); the bot, run as
// `serve`, hears each merged pull request and its check run is read back.
// The cases run in order on one repository, each from where the last left
// it, as merges to a fleet do.
func TestRealFluxControllers(t *testing.T) {
	assets := fluxtest.Need(t)
	began := time.Now()
	flux := fluxtest.Start(t, assets)
	t.Logf("control plane and controllers started in %s", time.Since(began).Round(time.Millisecond))
	charts := chartrendertest.Serve(t, chartrendertest.Chart("hello", "0.1.0", "greeting: hi\n", map[string]string{
		"templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Release.Name }}}\ndata: {greeting: {{ .Values.greeting | quote }}}\n",
	}))

	str := func(s string) *string { return &s }
	gh := githubtest.New(t, "acme", "fleet", map[string]string{
		".gitops-bot.yaml":                "provider: flux\nverifyAllMerges: true\nverifyFailureGrace: 20s\nverifyTimeout: 3m\nenvironments:\n- name: staging\n",
		"clusters/staging/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n",
		"clusters/staging/hello.yaml":     configMap("hello", "apps", "hi"),
	})
	gh.SetPermission("Codertocat", "write")

	objs := clustertest.NewObjects(t, flux.Env)
	ns := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	objs.Create(ns, `{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}}`)
	objs.Create(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, `
apiVersion: v1
kind: Secret
metadata: {name: fleet-auth, namespace: flux-system}
stringData: {username: x-access-token, password: ghs_fake}`)
	objs.Create(providers.GitRepositoryGVR, fmt.Sprintf(`
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: flux-system}
spec: {interval: 2s, timeout: 20s, url: %q, ref: {branch: main}, secretRef: {name: fleet-auth}}`, gh.WebURL()+"/acme/fleet.git"))
	objs.Create(providers.KustomizationGVR, `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: staging, namespace: flux-system}
spec: {interval: 2s, retryInterval: 2s, timeout: 30s, path: ./clusters/staging, prune: true, sourceRef: {kind: GitRepository, name: fleet}}`)
	waitApplied(t, objs, gh.Head("main"))
	t.Logf("first reconcile of the fleet after %s", time.Since(began).Round(time.Millisecond))

	_, srv := serveGitHub(t, gh, flux.Env)

	f := newFleetRun(t, gh, srv, func() string { return "Kustomization status: " + status(objs) })
	open, merge, verdict, expect := f.open, f.merge, f.verdict, f.expect

	// 1. A change that applies: success, naming the commit.
	sha := merge(open("greet in English", map[string]*string{"clusters/staging/hello.yaml": str(configMap("hello", "apps", "hello"))}))
	expect("success", verdict("success", sha), "success", "Kustomization/flux-system/staging", sha[:7])

	// 2. A kustomization.yaml naming a file that is not there: BuildFailed,
	// which Flux does not retry at the same commit: failure at once.
	sha = merge(open("list the resources", map[string]*string{"clusters/staging/kustomization.yaml": str("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [namespace.yaml, hello.yaml, missing.yaml]\n")}))
	expect("build failure", verdict("build failure", sha), "failure", "BuildFailed")

	// 3. The fix: success at the new commit.
	sha = merge(open("fix the list", map[string]*string{"clusters/staging/kustomization.yaml": nil}))
	expect("fix after a failure", verdict("fix after a failure", sha), "success", sha[:7])

	// 4. An object the API server refuses: Flux retries it; still failing
	// at the merge after the grace period, the check fails.
	sha = merge(open("add a deployment", map[string]*string{"clusters/staging/broken.yaml": str("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: broken, namespace: apps}\nspec: {template: {metadata: {labels: {app: x}}, spec: {containers: [{name: x, image: nginx}]}}}\n")}))
	expect("invalid object", verdict("invalid object", sha), "failure", "still failing after 20s")

	// 5. Two merges in quick succession: the first is verified by the
	// second's revision, which contains it.
	sha = merge(open("remove the deployment", map[string]*string{"clusters/staging/broken.yaml": nil}))
	second := merge(open("greet in French", map[string]*string{"clusters/staging/hello.yaml": str(configMap("hello", "apps", "bonjour"))}))
	expect("first of two quick merges", verdict("first of two quick merges", sha), "success")
	expect("second of two quick merges", verdict("second of two quick merges", second), "success", second[:7])

	// 6. A HelmRelease of a chart from a repository served here: the
	// HelmRelease is verified after the Kustomization that applied it.
	sha = merge(open("install hello", map[string]*string{"clusters/staging/hello-release.yaml": str(fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: charts, namespace: flux-system}
spec: {interval: 1m, url: %q}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: hello, namespace: flux-system}
spec:
  interval: 1m
  targetNamespace: apps
  chart: {spec: {chart: hello, version: 0.1.0, sourceRef: {kind: HelmRepository, name: charts}}}
  values: {greeting: hallo}
`, charts.URL()))}))
	expect("HelmRelease", verdict("HelmRelease", sha), "success", "HelmRelease/flux-system/hello")

	// /status of the release: what the branch pins, and what the real
	// helm-controller reports running, from the bot's informer caches.
	reply := f.status("/status hello")
	for _, want := range []string{"| `staging` | chart version `0.1.0`<br>in `clusters/staging/hello-release.yaml`",
		"HelmRelease `flux-system/hello` in `default` at `main@sha1:" + sha[:7], "`chart hello 0.1.0`", "✅"} {
		if !strings.Contains(reply, want) {
			t.Errorf("/status lacks %q:\n%s", want, reply)
		}
	}

	// 7. A failure Flux retries that heals at the same commit: a namespace
	// created while the check waits out its grace period.
	sha = merge(open("greet in a new namespace", map[string]*string{"clusters/staging/late.yaml": str(configMap("hello", "late", "later"))}))
	f.waitShown("the retried failure", sha, "retries")
	objs.Create(ns, `{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "late"}}`)
	expect("retried failure that recovers", verdict("retried failure that recovers", sha), "success", sha[:7])
	t.Logf("all cases in %s", time.Since(began).Round(time.Millisecond))
}

// configMap is a ConfigMap's YAML; with no namespace, the applier's own.
func configMap(name, namespace, greeting string) string {
	meta := "name: " + name
	if namespace != "" {
		meta += ", namespace: " + namespace
	}
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {%s}\ndata: {greeting: %q}\n", meta, greeting)
}

// waitApplied waits for the fleet's Kustomization to apply a commit.
func waitApplied(t *testing.T, objs clustertest.Objects, sha string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		k, err := objs.Dyn.Resource(providers.KustomizationGVR).Namespace("flux-system").Get(context.Background(), "staging", metav1.GetOptions{})
		if err == nil && strings.HasSuffix(providers.Str(k, "status", "lastAppliedRevision"), sha) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the Kustomization did not apply %.7s in 2m: %v", sha, status(objs))
}

// status is the fleet's Kustomization and GitRepository statuses, for a failure's message.
func status(objs clustertest.Objects) string {
	var b strings.Builder
	for _, o := range []struct {
		gvr  schema.GroupVersionResource
		name string
	}{{providers.KustomizationGVR, "staging"}, {providers.GitRepositoryGVR, "fleet"}} {
		k, err := objs.Dyn.Resource(o.gvr).Namespace("flux-system").Get(context.Background(), o.name, metav1.GetOptions{})
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", o.gvr.Resource, err)
			continue
		}
		st, _, _ := unstructured.NestedMap(k.Object, "status")
		fmt.Fprintf(&b, "%s: %v\n", o.gvr.Resource, st)
	}
	return b.String()
}
