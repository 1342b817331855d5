package verbs_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/bot"
	"github.com/gitops-bot/gitops-bot/bot/bottest"
	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/sync/cluster"
)

// clusterCache answers as cluster.Set does from its informer caches.
type clusterCache struct {
	owners  []cluster.Owner
	objects map[providers.Ref]*unstructured.Unstructured
	images  map[string][]string // namespace/name -> the Deployment's images
}

func (c clusterCache) Owners(context.Context, string, string, string) ([]cluster.Owner, error) {
	return c.owners, nil
}

func (c clusterCache) Object(_ context.Context, _ string, ref providers.Ref) (*unstructured.Unstructured, error) {
	return c.objects[ref], nil
}

func (c clusterCache) Images(_ context.Context, _, namespace, name string) ([]string, error) {
	return c.images[namespace+"/"+name], nil
}

func kustomization(name, path, revision string, ready bool) (cluster.Owner, *unstructured.Unstructured) {
	ref := providers.Ref{APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization", Namespace: "flux-system", Name: name}
	status, reason, msg := "True", "ReconciliationSucceeded", "Applied revision: "+revision
	if !ready {
		status, reason, msg = "False", "HealthCheckFailed", "health check failed after 5m0s: timeout waiting for: [Deployment/frontend/frontend status: 'InProgress']"
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": ref.APIVersion, "kind": ref.Kind,
		"metadata": map[string]any{"name": name, "namespace": "flux-system", "generation": int64(1)},
		"spec":     map[string]any{"path": "./" + path},
		"status": map[string]any{"observedGeneration": int64(1), "lastAppliedRevision": revision, "lastAttemptedRevision": revision,
			"conditions": []any{map[string]any{"type": "Ready", "status": status, "reason": reason, "message": msg, "observedGeneration": int64(1)}}},
	}}
	return cluster.Owner{Ref: ref, RepoURL: bottest.Repo.CloneURL, Path: path, Revision: revision, WorkloadNamespace: "frontend"}, obj
}

// /status on the example Flux fleet: the images each environment's build
// runs, and what the cluster's Kustomizations say of them.
func TestStatusOnTheExampleFleet(t *testing.T) {
	f := bottest.Fleet(t, "flux", nil)

	// No cluster on the bot: the repository's side alone, said so.
	reply := bottest.Handle(t, f, "/status frontend")
	for _, want := range []string{"| `staging` | image of container frontend `ghcr.io/acme/frontend:1.4.3`<br>in `apps/overlays/staging/frontend/kustomization.yaml`",
		"| `production` | image of container frontend `ghcr.io/acme/frontend:1.4.2`", "no cluster is configured on the bot"} {
		if !strings.Contains(reply, want) {
			t.Errorf("reply lacks %q:\n%s", want, reply)
		}
	}

	// One cluster per environment, as the example's Kustomizations put
	// both environments' Deployment in namespace frontend.
	const sha = "5f0a2d1c9a3b8e7d6c5b4a39281706f5e4d3c2b1"
	stagingOwner, staging := kustomization("frontend-staging", "apps/overlays/staging/frontend", "main@sha1:"+sha, true)
	b := bot.New(bottest.Quiet)
	b.Owners = clusterCache{owners: []cluster.Owner{stagingOwner}, objects: map[providers.Ref]*unstructured.Unstructured{stagingOwner.Ref: staging},
		images: map[string][]string{"frontend/frontend": {"ghcr.io/acme/frontend:1.4.2"}}} // not yet rolled out
	reply = bottest.HandleEvent(t, b, f, bottest.Comment(2, "rita", "/status frontend --env staging"))
	for _, want := range []string{"Kustomization `flux-system/frontend-staging` in `default` at `main@sha1:5f0a2d1`", "| `ghcr.io/acme/frontend:1.4.2` |", "✅ ReconciliationSucceeded", "✅ Ready"} {
		if !strings.Contains(reply, want) {
			t.Errorf("staging reply lacks %q:\n%s", want, reply)
		}
	}
	if strings.Contains(reply, "production") {
		t.Errorf("--env staging shows another environment:\n%s", reply)
	}
	prodOwner, prod := kustomization("frontend-production", "apps/overlays/production/frontend", "main@sha1:"+sha, false)
	b.Owners = clusterCache{owners: []cluster.Owner{prodOwner}, objects: map[providers.Ref]*unstructured.Unstructured{prodOwner.Ref: prod}}
	reply = bottest.HandleEvent(t, b, f, bottest.Comment(3, "rita", "/status frontend --env production"))
	for _, want := range []string{"`flux-system/frontend-production`", "⏳ HealthCheckFailed", "Not ready: health check failed after 5m0s"} {
		if !strings.Contains(reply, want) {
			t.Errorf("production reply lacks %q:\n%s", want, reply)
		}
	}
	// Applied from another repository: said so, as the day-2 verbs do.
	b.Owners = clusterCache{owners: []cluster.Owner{{Ref: providers.Ref{Kind: "Kustomization", Namespace: "flux-system", Name: "theirs"},
		RepoURL: "https://github.com/someone/else.git", Path: "apps/frontend"}}}
	reply = bottest.HandleEvent(t, b, f, bottest.Comment(4, "rita", "/status frontend --env staging"))
	if !strings.Contains(reply, "applied from `https://github.com/someone/else.git` by `Kustomization/flux-system/theirs`") {
		t.Errorf("elsewhere:\n%s", reply)
	}
	if len(f.Proposals()) != 0 {
		t.Error("/status proposed a change")
	}
}

// An Argo CD Application reports the images it runs; a workload nobody has
// is an answer, not an error.
func TestStatusArgoAndUnknownApp(t *testing.T) {
	f := bottest.Fleet(t, "argocd", nil)
	// A real Application's status (see providers/argocd/testdata).
	raw, err := os.ReadFile("../../providers/argocd/testdata/application-synced-healthy-succeeded.yaml")
	if err != nil {
		t.Fatal(err)
	}
	app := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(raw, &app.Object); err != nil {
		t.Fatal(err)
	}
	ref := providers.RefOf(app)
	b := bot.New(bottest.Quiet)
	b.Owners = clusterCache{owners: []cluster.Owner{{Ref: ref, RepoURL: bottest.Repo.CloneURL, Path: "apps/overlays/staging/frontend"}},
		objects: map[providers.Ref]*unstructured.Unstructured{ref: app}}
	reply := bottest.HandleEvent(t, b, f, bottest.Comment(2, "rita", "/status frontend --env staging"))
	for _, want := range []string{"Application `argo-cd/velero-test`", "`nginx:latest`", "Synced", "Healthy"} {
		if !strings.Contains(reply, want) {
			t.Errorf("reply lacks %q:\n%s", want, reply)
		}
	}
	reply = bottest.HandleEvent(t, b, f, bottest.Comment(3, "rita", "/status nosuchapp"))
	if !strings.Contains(reply, "`nosuchapp` is in no environment of this repository") {
		t.Errorf("unknown app: %s", reply)
	}
	reply = bottest.HandleEvent(t, b, f, bottest.Comment(4, "rita", "/status frontend --env qa"))
	if !strings.Contains(reply, "unknown environment") {
		t.Errorf("unknown env: %s", reply)
	}
}

// On the official Flux example (a public repository): the chart version
// and the values each environment pins.
func TestStatusOnTheFluxExample(t *testing.T) {
	f := corpus(t, fluxExample, fluxExampleConfig)
	reply := bottest.Handle(t, f, "/status podinfo")
	for _, want := range []string{"| `staging` | chart version", "| `production` | chart version", "apps/staging/podinfo-values.yaml"} {
		if !strings.Contains(reply, want) {
			t.Errorf("reply lacks %q:\n%s", want, reply)
		}
	}
}

// Without a config, the default layout's environments: each directory
// under clusters/.
func TestStatusOnTheDefaultLayout(t *testing.T) {
	f := bottest.NewFake(nil)
	bottest.Merged(t, f, podinfo)
	reply := bottest.Handle(t, f, "/status podinfo")
	for _, want := range []string{"| `staging` | chart version `6.7.0`", "| `production` | no workload `podinfo` in environment `production`"} {
		if !strings.Contains(reply, want) {
			t.Errorf("reply lacks %q:\n%s", want, reply)
		}
	}
}
