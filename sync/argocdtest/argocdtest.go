// Package argocdtest runs the real Argo CD (the application-controller, the
// repo-server and the ApplicationSet controller, built by
// hack/setup-argocd.sh and found through GITOPS_BOT_ARGOCD_ASSETS) against a
// test control plane of its own, with Argo CD's CRDs and a Redis on a
// loopback port, so that verification and rendering are judged on what
// Argo CD really writes and applies.
//
// What it takes to run Argo CD outside a cluster, each learnt the hard way:
//   - ARGOCD_FAKE_IN_CLUSTER with KUBECONFIG makes the destination
//     https://kubernetes.default.svc the test API server;
//   - argocd-cm (labelled part-of argocd) and the AppProject default must
//     exist, argocd-server usually creates them;
//   - the repo-server runs git-verify-wrapper.sh from its PATH before every
//     manifest generation;
//   - --disable-tls needs --client-ca-path= (its default is not empty).
package argocdtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

// Namespace is where Argo CD runs and keeps its Applications.
const Namespace = "argocd"

// ArgoCD is a control plane with Argo CD running against it.
type ArgoCD struct {
	Env  *envtest.Environment
	Objs clustertest.Objects

	procs clustertest.Procs
}

// Options adjust what runs.
type Options struct {
	// ProgressiveSyncs enables the ApplicationSet controller's RollingSync.
	ProgressiveSyncs bool
}

// ErrNoAssets: Argo CD is not built.
var ErrNoAssets = errors.New("GITOPS_BOT_ARGOCD_ASSETS is not set: run the tests with hack/test.sh, which builds Argo CD (hack/setup-argocd.sh)")

// Need returns Argo CD's directory, or skips the test when it is not built,
// unless GITOPS_BOT_REQUIRE_ARGOCD is set (hack/test.sh sets it), where it
// fails. Redis must be there too.
func Need(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("GITOPS_BOT_ARGOCD_ASSETS")
	missing := ErrNoAssets
	if dir != "" {
		missing = nil
		if _, err := exec.LookPath("redis-server"); err != nil {
			missing = errors.New("redis-server is not installed (hack/test.sh installs it)")
		}
	}
	if missing != nil {
		if os.Getenv("GITOPS_BOT_REQUIRE_ARGOCD") != "" {
			t.Fatal(missing)
		}
		t.Skip(missing)
	}
	return dir
}

// Start starts a control plane with Argo CD's own CRDs (and the Flux CRDs
// the bot also watches), Redis and the three components; all stop when the
// test ends. Set GITOPS_BOT_ARGOCD_LOGS to print their logs when it fails.
func Start(t testing.TB, assets string, opts Options) *ArgoCD {
	t.Helper()
	env, err := clustertest.StartWith(func(e *envtest.Environment) {
		var keep []*apiextensionsv1.CustomResourceDefinition
		for _, crd := range e.CRDs {
			if crd.Spec.Group != "argoproj.io" {
				keep = append(keep, crd)
			}
		}
		e.CRDs = keep
		e.CRDDirectoryPaths = []string{filepath.Join(assets, "crds")}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Log("stopping the control plane:", err)
		}
	})
	a := &ArgoCD{Env: env, Objs: clustertest.NewObjects(t, env), procs: clustertest.Procs{LogsEnv: "GITOPS_BOT_ARGOCD_LOGS"}}
	a.Objs.Create(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, `{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}}`)
	a.Objs.Create(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"},
		`{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm", "namespace": "argocd", "labels": {"app.kubernetes.io/part-of": "argocd"}}}`)
	// The ApplicationSet controller's webhook handler wants a server key.
	a.Objs.Create(schema.GroupVersionResource{Version: "v1", Resource: "secrets"},
		`{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "argocd-secret", "namespace": "argocd", "labels": {"app.kubernetes.io/part-of": "argocd"}}, "stringData": {"server.secretkey": "test"}}`)
	a.Objs.Create(AppProjectGVR, `
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: default, namespace: argocd}
spec:
  sourceRepos: ["*"]
  destinations: [{namespace: "*", server: "*"}]
  clusterResourceWhitelist: [{group: "*", kind: "*"}]`)

	dir := t.TempDir()
	kc := clustertest.AdminKubeconfig(t, env, "argocd", dir)
	bin := filepath.Join(assets, "bin", "argocd")
	redis := clustertest.FreeAddr(t)
	_, redisPort, _ := strings.Cut(redis, ":")
	a.procs.Run(t, "redis", "redis-server", nil, "--bind", "127.0.0.1", "--port", redisPort, "--save", "", "--appendonly", "no", "--dir", dir)
	waitListening(t, redis)

	// The repo-server finds kustomize, helm and the wrappers on its PATH,
	// and keeps its clones and Helm's state in the test's directory.
	home := filepath.Join(dir, "home")
	repoServer := clustertest.FreeAddr(t)
	_, repoPort, _ := strings.Cut(repoServer, ":")
	common := []string{"KUBECONFIG=" + kc, "ARGOCD_FAKE_IN_CLUSTER=true", "HOME=" + home, "TMPDIR=" + mkdir(t, filepath.Join(dir, "tmp")),
		"PATH=" + filepath.Join(assets, "bin") + string(os.PathListSeparator) + os.Getenv("PATH"),
		"ARGOCD_GPG_ENABLED=false", "ARGOCD_RECONCILIATION_TIMEOUT=10s", "XDG_CONFIG_HOME=" + filepath.Join(home, ".config")}
	mkdir(t, home)
	a.procs.Run(t, "repo-server", bin, append(common, "ARGOCD_BINARY_NAME=argocd-repo-server"),
		"--disable-tls", "--client-ca-path=", "--address", "127.0.0.1", "--port", repoPort,
		"--metrics-address", "127.0.0.1", "--metrics-port", port(clustertest.FreeAddr(t)),
		"--redis", redis, "--loglevel", "debug")
	waitListening(t, repoServer)
	a.procs.Run(t, "application-controller", bin, append(common, "ARGOCD_BINARY_NAME=argocd-application-controller"),
		"--namespace", Namespace, "--repo-server", repoServer, "--repo-server-plaintext", "--redis", redis,
		"--app-resync", "10", "--app-resync-jitter", "0", "--metrics-port", port(clustertest.FreeAddr(t)),
		"--loglevel", "debug")
	setArgs := []string{"--namespace", Namespace, "--argocd-repo-server", repoServer, "--repo-server-plaintext",
		"--metrics-addr", clustertest.FreeAddr(t), "--probe-addr", clustertest.FreeAddr(t), "--webhook-addr", clustertest.FreeAddr(t),
		"--enable-leader-election=false", "--loglevel", "debug"}
	if opts.ProgressiveSyncs {
		setArgs = append(setArgs, "--enable-progressive-syncs")
	}
	a.procs.Run(t, "applicationset-controller", bin, append(common, "ARGOCD_BINARY_NAME=argocd-applicationset-controller"), setArgs...)
	return a
}

// AddRepository gives Argo CD the credentials of a repository, as
// `argocd repo add` does: a Secret labelled as a repository.
func (a *ArgoCD) AddRepository(t testing.TB, url, username, password string) {
	t.Helper()
	a.Objs.Create(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, fmt.Sprintf(`
apiVersion: v1
kind: Secret
metadata:
  name: repo-%d
  namespace: argocd
  labels: {argocd.argoproj.io/secret-type: repository}
stringData: {type: git, url: %q, username: %q, password: %q}`, time.Now().UnixNano(), url, username, password))
}

// AppProjectGVR is the resource of Argo CD's AppProjects.
var AppProjectGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "appprojects"}

// Refresh asks Argo CD to compare an Application with its source again now,
// as Argo CD's own webhook does after a push (without it the controller
// polls: 13-16 s here).
func (a *ArgoCD) Refresh(t testing.TB, name string) {
	t.Helper()
	patch := []byte(`{"metadata": {"annotations": {"argocd.argoproj.io/refresh": "normal"}}}`)
	_, err := a.Objs.Dyn.Resource(providers.ApplicationGVR).Namespace(Namespace).Patch(context.Background(), name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("refreshing Application %s: %v", name, err)
	}
}

// RefreshAll refreshes every Application.
func (a *ArgoCD) RefreshAll(t testing.TB) {
	t.Helper()
	list, err := a.Objs.Dyn.Resource(providers.ApplicationGVR).Namespace(Namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, app := range list.Items {
		a.Refresh(t, app.GetName())
	}
}

// Log returns what a component has logged so far: "repo-server",
// "application-controller", "applicationset-controller" or "redis".
func (a *ArgoCD) Log(name string) string { return a.procs.Log(name) }

// String names the control plane, for messages.
func (a *ArgoCD) String() string { return fmt.Sprintf("Argo CD on %s", a.Env.Config.Host) }

func waitListening(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !clustertest.Listening(addr) {
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s after 30s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func port(addr string) string {
	_, p, _ := strings.Cut(addr, ":")
	return p
}

func mkdir(t testing.TB, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
