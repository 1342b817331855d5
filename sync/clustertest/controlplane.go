// Package clustertest starts the real control plane the cluster tests run
// against: kube-apiserver and etcd (prepared by hack/setup-envtest.sh and
// found through KUBEBUILDER_ASSETS) with the Argo CD and Flux CRDs shipped
// in providers/schema, and writes status the way the controllers do.
package clustertest

import (
	"bytes"

	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"testing"

	"github.com/go-logr/logr"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gitops-bot/gitops-bot/deploy"
	"github.com/gitops-bot/gitops-bot/providers/schema"
)

// The CRDs the bot reads.
var crdFiles = []string{
	"application-crd.yaml",
	"applicationset-crd.yaml",
	"kustomize.toolkit.fluxcd.io_kustomizations.yaml",
	"helm.toolkit.fluxcd.io_helmreleases.yaml",
	"source.toolkit.fluxcd.io_gitrepositories.yaml",
	"source.toolkit.fluxcd.io_helmrepositories.yaml",
	"source.toolkit.fluxcd.io_ocirepositories.yaml",
}

// Start starts a control plane with the CRDs installed. Without
// KUBEBUILDER_ASSETS it says how to get one; hack/test.sh always sets it.
func Start() (*envtest.Environment, error) { return StartWith(nil) }

// StartWith is Start with a chance to adjust the environment first.
func StartWith(adjust func(*envtest.Environment)) (*envtest.Environment, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, ErrNoAssets
	}
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, f := range crdFiles {
		b, err := fs.ReadFile(schema.CRDs(), "crds/"+f)
		if err != nil {
			return nil, err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096).Decode(crd); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		crds = append(crds, crd)
	}
	// And the bot's own kinds, which its Kubernetes store keeps.
	stores, err := fs.Glob(deploy.StoreCRDs, "base/crd-*.yaml")
	if err != nil {
		return nil, err
	}
	for _, f := range stores {
		b, err := fs.ReadFile(deploy.StoreCRDs, f)
		if err != nil {
			return nil, err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096).Decode(crd); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		crds = append(crds, crd)
	}
	env := &envtest.Environment{CRDs: crds, ErrorIfCRDPathMissing: true}
	if adjust != nil {
		adjust(env)
	}
	if _, err := env.Start(); err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd: %w", err)
	}
	return env, nil
}

// ErrNoAssets: the control plane binaries are not set up.
var ErrNoAssets = errors.New("KUBEBUILDER_ASSETS is not set: run the tests with hack/test.sh, which builds kube-apiserver and installs etcd")

// Main runs a package's tests against one shared control plane. A missing
// control plane skips those tests with the reason, unless
// GITOPS_BOT_REQUIRE_ENVTEST is set (hack/test.sh sets it), where it fails.
func Main(m *testing.M, env **envtest.Environment) {
	// Informers log every watch they lose when a test stops them; that is
	// the tests' normal life, not news.
	klog.SetOutput(io.Discard)
	klog.LogToStderr(false)
	ctrllog.SetLogger(logr.Discard())
	e, err := Start()
	switch {
	case errors.Is(err, ErrNoAssets) && os.Getenv("GITOPS_BOT_REQUIRE_ENVTEST") == "":
		fmt.Fprintln(os.Stderr, "skipping cluster tests:", err)
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*env = e
	code := m.Run()
	if e != nil {
		if err := e.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
		}
	}
	os.Exit(code)
}

// Need skips a test when the control plane is not there (see Main).
func Need(t testing.TB, env *envtest.Environment) {
	t.Helper()
	if env == nil {
		t.Skip(ErrNoAssets)
	}
}

// StartFor starts a control plane of a test's own, stopped when the test
// ends; without one it skips (or fails under GITOPS_BOT_REQUIRE_ENVTEST).
func StartFor(t testing.TB) *envtest.Environment {
	t.Helper()
	e, err := Start()
	if errors.Is(err, ErrNoAssets) && os.Getenv("GITOPS_BOT_REQUIRE_ENVTEST") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop() })
	return e
}
