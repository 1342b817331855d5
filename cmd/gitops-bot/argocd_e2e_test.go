package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/examples"
	"github.com/gitops-bot/gitops-bot/forge/github/githubtest"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/providers/chartrender/chartrendertest"
	"github.com/gitops-bot/gitops-bot/sync/argocdtest"
)

// argoApp is an Application of the test fleet applying path of the fleet
// into namespace, synced automatically. source is more of its source (", "
// and flow YAML), extra more YAML under syncPolicy.
func argoApp(name, repoURL, path, source, namespace, extra string) string {
	return fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: %s, namespace: argocd}
spec:
  project: default
  source: {repoURL: %q, targetRevision: main, path: %s%s}
  destination: {server: "https://kubernetes.default.svc", namespace: %s}
  syncPolicy:
    automated: {prune: true}
    syncOptions: [CreateNamespace=true]
%s`, name, repoURL, path, source, namespace, extra)
}

// Argo CD retries a failed automated sync (five times by default, from
// 5 s doubling to 3 min); the fleet's Applications retry on a shorter
// clock so that the test sees Argo CD give up in half a minute, not five:
// still long enough for the check, posted at most every 10 s, to show the
// retries.
const shortRetry = "    retry: {limit: 3, backoff: {duration: 5s, factor: 2, maxDuration: 20s}}\n"

// The real Argo CD (application-controller, repo-server, ApplicationSet
// controller) syncs real merges of a repository served over HTTP by the
// fake GitHub; the bot, run as `serve`, hears each merged pull request and
// its check run is read back. The cases run in order on one repository,
// each from where the last left it, as merges to a fleet do.
func TestRealArgoCD(t *testing.T) {
	assets := argocdtest.Need(t)
	began := time.Now()
	argo := argocdtest.Start(t, assets, argocdtest.Options{ProgressiveSyncs: true})
	t.Logf("control plane and Argo CD started in %s", time.Since(began).Round(time.Millisecond))
	charts := chartrendertest.Serve(t, chartrendertest.Chart("hello", "0.1.0", "greeting: hi\n", map[string]string{
		"configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Release.Name }}}\ndata: {greeting: {{ .Values.greeting | quote }}}\n",
	}))

	str := func(s string) *string { return &s }
	gh := githubtest.New(t, "acme", "fleet", nil)
	url := gh.WebURL() + "/acme/fleet.git"
	files, err := examples.Files("argocd", url)
	if err != nil {
		t.Fatal(err)
	}
	for path, content := range map[string]string{
		".gitops-bot.yaml": "provider: argocd\nverifyAllMerges: true\nverifyFailureGrace: 20s\nverifyTimeout: 3m\n" +
			"environments:\n- name: staging\n  dir: clusters/staging\n  argocd: {namespace: argocd}\n",
		// Applications applied by the example's root-staging (app of apps).
		"clusters/staging/config.yaml":          argoApp("config", url, "clusters/staging/config", "", "apps", shortRetry),
		"clusters/staging/config/hello.yaml":    configMap("hello", "apps", "hi"),
		"clusters/staging/strict.yaml":          argoApp("strict", url, "clusters/staging/strict", "", "strict", "    retry: {limit: 0}\n"),
		"clusters/staging/strict/settings.yaml": configMap("settings", "strict", "on"),
		"clusters/staging/hello-chart.yaml": argoApp("hello-chart", url, "charts/hello",
			", helm: {valueFiles: [../../clusters/staging/values/hello-chart.yaml]}", "chart", shortRetry),
		"clusters/staging/values/hello-chart.yaml":  "greeting: hi\n",
		"charts/hello/Chart.yaml":                   "apiVersion: v2\nname: hello\nversion: 0.1.0\nkubeVersion: \">=1.30.0-0\"\n",
		"charts/hello/values.yaml":                  "greeting: hi\n",
		"charts/hello/templates/configmap.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Release.Name }}}\ndata: {greeting: {{ .Values.greeting | quote }}}\n",
		"clusters/staging/hello-values.yaml":        multiSourceApp(charts.URL(), url),
		"clusters/staging/values/hello.yaml":        "greeting: hallo\n",
		"clusters/staging/teams.yaml":               teamsSet(url),
		"clusters/staging/teams/red/settings.yaml":  configMap("settings", "", "red"),
		"clusters/staging/teams/blue/settings.yaml": configMap("settings", "", "blue"),
		// Applied at the bootstrap, not by root-staging: its health would
		// stay Progressing as long as the rollout holds its second step.
		"bootstrap/waves.yaml":                    wavesSet(url),
		"clusters/staging/waves/w1/web.yaml":      deployment("web", "", 1),
		"clusters/staging/waves/w2/settings.yaml": configMap("settings", "", "two"),
	} {
		files[path] = content
	}
	gh.Push("main", "the fleet", files)
	argo.AddRepository(t, url, "x-access-token", githubtest.GitPassword)
	gh.SetPermission("Codertocat", "write")

	// Bootstrap as a person does: kubectl apply the root Application.
	var root map[string]any
	if err := yaml.Unmarshal([]byte(files["clusters/staging/root.yaml"]), &root); err != nil {
		t.Fatal(err)
	}
	rootYAML, _ := yaml.Marshal(root)
	argo.Objs.Create(providers.ApplicationGVR, string(rootYAML))
	argo.Objs.Create(providers.ApplicationSetGVR, files["bootstrap/waves.yaml"])
	head := gh.Head("main")
	for _, app := range []string{"root-staging", "config", "strict", "hello-chart", "hello-values", "team-red", "team-blue", "frontend-staging"} {
		argo.WaitSynced(t, app, head, 3*time.Minute)
	}
	t.Logf("first sync of the fleet after %s", time.Since(began).Round(time.Millisecond))

	_, srv := serveGitHub(t, gh, argo.Env)
	f := newFleetRun(t, gh, srv, func() string { return argo.Describe(t) })
	// Argo CD's webhook would refresh the Applications on the push; without
	// it the controller polls every 10 s here.
	change := func(title string, changes map[string]*string) string {
		sha := f.change(title, changes)
		argo.RefreshAll(t)
		return sha
	}

	// The statuses of the cases, kept as test data (sync/verify/testdata/argocd).
	capture := func(app, as, sha string) { argo.Capture(t, app, as, sha, url, examples.URL) }

	// 1. A change that syncs and is healthy.
	sha := change("greet in English", map[string]*string{"clusters/staging/config/hello.yaml": str(configMap("hello", "apps", "hello"))})
	f.settle("success", sha, "success", "Application/argocd/config", sha[:7])
	capture("config", "synced-healthy-at-M", sha)

	// 2. An object the API server refuses: Argo CD retries the sync
	// (operationState Running, retryCount rising, the resource SyncFailed)
	// and the check waits; when Argo CD gives up, it fails with the API
	// server's message.
	sha = change("add a deployment", map[string]*string{"clusters/staging/config/broken.yaml": str(
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: broken, namespace: apps}\nspec: {template: {metadata: {labels: {app: x}}, spec: {containers: [{name: x, image: nginx}]}}}\n")})
	f.waitShown("a sync Argo CD retries", sha, "Argo CD retries it")
	capture("config", "retrying-at-M", sha)
	f.settle("a sync Argo CD gave up on", sha, "failure", "spec.selector: Required value")
	capture("config", "failed-at-M-after-retries", sha)

	// 3. A revert whose manifests equal what is live: Argo CD reports
	// Synced at the new commit with no new operation; the failed one
	// stays in operationState. Success.
	sha = change("remove the deployment", map[string]*string{"clusters/staging/config/broken.yaml": nil})
	f.settle("a revert to what is live", sha, "success", sha[:7])
	capture("config", "older-operation-failed-synced-at-M", sha)

	// 4. With retry.limit 0 a failed sync is final at once.
	sha = change("a bad object, no retries", map[string]*string{"clusters/staging/strict/broken.yaml": str(
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: broken, namespace: strict}\nspec: {template: {metadata: {labels: {app: x}}, spec: {containers: [{name: x, image: nginx}]}}}\n")})
	f.settle("a failed sync with no retries", sha, "failure", "Application/argocd/strict", "spec.selector: Required value")
	capture("strict", "failed-at-M", sha)
	sha = change("remove it", map[string]*string{"clusters/staging/strict/broken.yaml": nil})
	f.settle("the revert of a failed sync", sha, "success", sha[:7])

	// 5. A source kustomize cannot build: a ComparisonError, sync status
	// Unknown at the branch name. Failure at once, with the build error.
	sha = change("list the resources", map[string]*string{"clusters/staging/config/kustomization.yaml": str(
		"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [hello.yaml, missing.yaml]\n")})
	f.settle("a source that does not build", sha, "failure", "ComparisonError", "missing.yaml")
	capture("config", "comparison-error", sha)

	// 6. The fix: the earlier comparison error is not blamed on it.
	sha = change("fix the list", map[string]*string{"clusters/staging/config/kustomization.yaml": nil})
	f.settle("fix after a comparison error", sha, "success", sha[:7])

	// 7. Two merges in quick succession: the first is verified by the
	// second's revision, which contains it.
	first := f.change("greet in French", map[string]*string{"clusters/staging/config/hello.yaml": str(configMap("hello", "apps", "bonjour"))})
	second := change("greet in German", map[string]*string{"clusters/staging/config/hello.yaml": str(configMap("hello", "apps", "guten tag"))})
	f.settle("first of two quick merges", first, "success")
	f.settle("second of two quick merges", second, "success", second[:7])

	// 8. A failure that heals at the same revision: a namespace created
	// while Argo CD retries.
	sha = change("greet in a new namespace", map[string]*string{"clusters/staging/config/late.yaml": str(configMap("hello", "late", "later"))})
	f.waitShown("a sync Argo CD retries", sha, "Argo CD retries it")
	argo.Objs.Create(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, `{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "late"}}`)
	f.settle("a retried sync that heals", sha, "success", sha[:7])

	// 9. A Helm chart of this repository (with a kubeVersion constraint:
	// Argo CD passes the API server's version to Helm) whose values file,
	// outside the chart, is the environment's.
	sha = change("greet from the chart", map[string]*string{"clusters/staging/values/hello-chart.yaml": str("greeting: hey\n")})
	f.settle("a chart of this repository", sha, "success", "Application/argocd/hello-chart", sha[:7])

	// 10. A chart from a Helm repository whose values come from this
	// repository through a $values source.
	sha = change("greet through the values", map[string]*string{"clusters/staging/values/hello.yaml": str("greeting: servus\n")})
	f.settle("a multi-source Application", sha, "success", "Application/argocd/hello-values", sha[:7])

	// 11. An Application an ApplicationSet generates (git directories).
	sha = change("red team settings", map[string]*string{"clusters/staging/teams/red/settings.yaml": str(configMap("settings", "", "crimson"))})
	f.settle("an ApplicationSet's Application", sha, "success", "Application/argocd/team-red", sha[:7])
	capture("frontend-staging", "synced-progressing-at-M", sha)

	// 12. /status against the real Applications.
	reply := f.status("/status frontend --env staging")
	for _, want := range []string{"Application `argocd/frontend-staging`", "`ghcr.io/acme/frontend:1.4.3`", "Synced"} {
		if !strings.Contains(reply, want) {
			t.Errorf("/status lacks %q:\n%s", want, reply)
		}
	}

	// 13. An Application the progressive sync holds back: the first step's
	// Deployment never becomes healthy (no kubelet here), so the second
	// step waits; the check says so and, still held at its deadline,
	// completes neutral.
	sha = change("wave two settings", map[string]*string{
		"clusters/staging/waves/w2/settings.yaml": str(configMap("settings", "", "deux")),
		".gitops-bot.yaml": str("provider: argocd\nverifyAllMerges: true\nverifyTimeout: 20s\n" +
			"environments:\n- name: staging\n  dir: clusters/staging\n  argocd: {namespace: argocd}\n"),
	})
	f.waitShown("held by a progressive sync", sha, "held by the progressive sync of ApplicationSet argocd/waves")
	capture("w2", "missing-held-by-progressive-sync", sha)
	r := f.settle("held by a progressive sync", sha, "neutral", "Held in")
	if !strings.Contains(r.Summary, "step 2") {
		t.Errorf("the held check does not name the step:\n%s", r.Summary)
	}
	t.Logf("all cases in %s", time.Since(began).Round(time.Millisecond))
}

func multiSourceApp(chartRepo, url string) string {
	return fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: hello-values, namespace: argocd}
spec:
  project: default
  sources:
  - {repoURL: %q, chart: hello, targetRevision: 0.1.0, helm: {valueFiles: [$values/clusters/staging/values/hello.yaml]}}
  - {repoURL: %q, targetRevision: main, ref: values}
  destination: {server: "https://kubernetes.default.svc", namespace: values}
  syncPolicy:
    automated: {prune: true}
    syncOptions: [CreateNamespace=true]
`, chartRepo, url)
}

func teamsSet(url string) string {
	return fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: teams, namespace: argocd}
spec:
  goTemplate: true
  generators:
  - git: {repoURL: %q, revision: main, directories: [{path: "clusters/staging/teams/*"}]}
  template:
    metadata: {name: "team-{{.path.basename}}"}
    spec:
      project: default
      source: {repoURL: %q, targetRevision: main, path: "{{.path.path}}"}
      destination: {server: "https://kubernetes.default.svc", namespace: "team-{{.path.basename}}"}
      syncPolicy:
        automated: {prune: true}
        syncOptions: [CreateNamespace=true]
`, url, url)
}

func wavesSet(url string) string {
	return fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: waves, namespace: argocd}
spec:
  generators:
  - list: {elements: [{name: w1, wave: "1"}, {name: w2, wave: "2"}]}
  strategy:
    type: RollingSync
    rollingSync:
      steps:
      - matchExpressions: [{key: wave, operator: In, values: ["1"]}]
      - matchExpressions: [{key: wave, operator: In, values: ["2"]}]
  template:
    metadata: {name: "{{name}}", labels: {wave: "{{wave}}"}}
    spec:
      project: default
      source: {repoURL: %q, targetRevision: main, path: "clusters/staging/waves/{{name}}"}
      destination: {server: "https://kubernetes.default.svc", namespace: "{{name}}"}
      syncPolicy:
        automated: {prune: true}
        syncOptions: [CreateNamespace=true]
`, url)
}

func deployment(name, namespace string, replicas int) string {
	ns := ""
	if namespace != "" {
		ns = ", namespace: " + namespace
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %s%s}
spec:
  replicas: %d
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s}}
    spec: {containers: [{name: web, image: "nginx:1.27"}]}
`, name, ns, replicas, name, name)
}
