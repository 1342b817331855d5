package cluster

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/gitops-bot/gitops-bot/providers"
	"github.com/gitops-bot/gitops-bot/sync/clustertest"
)

// BenchmarkWatchedObjects: the bot's memory for a cluster holding N
// Applications, N Kustomizations and N HelmReleases of realistic size
// (written by server-side apply, so with managed fields; statuses with
// resources, histories and inventories as the controllers write them).
// Reported: live heap per watched object once the caches have synced, and
// the heap's peak during the initial sync (garbage not yet collected
// included) over that steady live heap. "whole" caches the objects as
// listed, for comparison. The objects are created once and kept between
// runs (10,000 per kind take a few minutes to write on two cores).
func BenchmarkWatchedObjects(b *testing.B) {
	clustertest.Need(b, env)
	for _, n := range []int{1000, 10000} {
		for _, trim := range []bool{false, true} { // whole first: both then find the API server's watch cache warm
			name := fmt.Sprintf("N=%d/trimmed", n)
			if !trim {
				name = fmt.Sprintf("N=%d/whole", n)
			}
			b.Run(name, func(b *testing.B) {
				fill(b, n)
				for range b.N {
					live, peak := syncOnce(b, n, trim)
					b.ReportMetric(live/float64(3*n), "live-B/object")
					b.ReportMetric(peak/live, "peak/steady")
				}
			})
		}
	}
}

var benchKinds = []schema.GroupVersionResource{providers.ApplicationGVR, providers.KustomizationGVR, providers.HelmReleaseGVR}

// syncOnce starts informers of the three kinds and returns the live heap
// they hold once synced and the highest heap seen on the way.
func syncOnce(b *testing.B, n int, trim bool) (live, peak float64) {
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 1000, 2000
	runtime.GC()
	base := heapObjects()
	var stop func()
	peakCh := make(chan uint64)
	done := make(chan struct{})
	go func() { // sample without stopping the world
		var m uint64
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				peakCh <- m
				return
			case <-t.C:
				m = max(m, heapObjects())
			}
		}
	}()
	if trim {
		c, err := New("bench", cfg)
		if err != nil {
			b.Fatal(err)
		}
		for _, gvr := range benchKinds {
			if _, err := c.Watch(context.Background(), gvr, 5*time.Minute); err != nil {
				b.Fatal(err)
			}
		}
		stop = c.Stop
	} else {
		f := dynamicinformer.NewDynamicSharedInformerFactory(dynamic.NewForConfigOrDie(cfg), 0)
		ch := make(chan struct{})
		var infs []cache.SharedIndexInformer
		for _, gvr := range benchKinds {
			infs = append(infs, f.ForResource(gvr).Informer())
		}
		f.Start(ch)
		for _, inf := range infs {
			cache.WaitForCacheSync(ch, inf.HasSynced)
		}
		stop = func() { close(ch) }
	}
	close(done)
	top := <-peakCh
	runtime.GC()
	steady := heapObjects()
	stop()
	return float64(steady - base), float64(max(top, steady) - base)
}

func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// fill makes sure each kind has objects bench-0 … bench-(n-1) in namespace bench.
func fill(b *testing.B, n int) {
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 2000, 4000
	dyn := dynamic.NewForConfigOrDie(cfg)
	ctx := context.Background()
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "bench"}}}
	dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(ctx, ns, metav1.CreateOptions{})
	have, err := dyn.Resource(providers.HelmReleaseGVR).Namespace("bench").List(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	start := len(have.Items)
	var wg sync.WaitGroup
	work := make(chan int)
	errs := make(chan error, 1)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := writeRealistic(ctx, dyn, i); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := start; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

// writeRealistic writes one object of each kind as the person (spec) and
// the controller (status) would, both by server-side apply.
func writeRealistic(ctx context.Context, dyn dynamic.Interface, i int) error {
	name := fmt.Sprintf("bench-%d", i)
	sha := fmt.Sprintf("%040x", i+1)
	now := time.Now().UTC().Format(time.RFC3339)
	cond := func(typ, reason, msg string) map[string]any {
		return map[string]any{"type": typ, "status": "True", "reason": reason, "message": msg, "observedGeneration": int64(1), "lastTransitionTime": now}
	}
	var resources, syncResources, inventory []any
	for j := range 25 {
		kind := []string{"Deployment", "Service", "ConfigMap", "ServiceAccount", "HorizontalPodAutoscaler"}[j%5]
		group := map[string]string{"Deployment": "apps", "HorizontalPodAutoscaler": "autoscaling"}[kind]
		rname := fmt.Sprintf("%s-component-%d", name, j)
		resources = append(resources, map[string]any{"group": group, "version": "v1", "kind": kind, "namespace": "apps", "name": rname,
			"status": "Synced", "health": map[string]any{"status": "Healthy"}})
		syncResources = append(syncResources, map[string]any{"group": group, "version": "v1", "kind": kind, "namespace": "apps", "name": rname,
			"status": "Synced", "message": strings.ToLower(kind) + "/" + rname + " serverside-applied", "hookPhase": "Running", "syncPhase": "Sync"})
		inventory = append(inventory, map[string]any{"id": "apps_" + rname + "_" + group + "_" + kind, "v": "v1"})
	}
	var history []any
	for j := range 10 {
		history = append(history, map[string]any{"id": int64(j), "revision": fmt.Sprintf("%040x", j), "deployedAt": now, "deployStartedAt": now,
			"source": map[string]any{"repoURL": "https://github.com/example/fleet.git", "path": "apps/" + name, "targetRevision": "main"}})
	}
	values := strings.Repeat("podinfo:\n  replicaCount: 2\n  resources: {limits: {memory: 512Mi}}\n", 12)
	source := map[string]any{"repoURL": "https://github.com/example/fleet.git", "path": "apps/" + name, "targetRevision": "main",
		"helm": map[string]any{"valueFiles": []any{"values.yaml", "values-prod.yaml"}, "values": values}}
	app := map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": name, "namespace": "bench", "labels": map[string]any{"team": "platform", "env": "prod"},
			"annotations": map[string]any{"notifications.argoproj.io/subscribe.on-sync-succeeded.slack": "deployments"}},
		"spec": map[string]any{"project": "default", "source": source,
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": "apps"},
			"syncPolicy":  map[string]any{"automated": map[string]any{"prune": true, "selfHeal": true}, "syncOptions": []any{"ServerSideApply=true", "CreateNamespace=true"}}},
		"status": map[string]any{
			"sync":      map[string]any{"status": "Synced", "revision": sha, "comparedTo": map[string]any{"source": source, "destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": "apps"}}},
			"health":    map[string]any{"status": "Healthy", "lastTransitionTime": now},
			"resources": resources, "history": history, "reconciledAt": now, "sourceType": "Helm",
			"summary": map[string]any{"images": []any{"ghcr.io/stefanprodan/podinfo:6.7.0"}},
			"operationState": map[string]any{"phase": "Succeeded", "message": "successfully synced (all tasks run)", "startedAt": now, "finishedAt": now,
				"operation":  map[string]any{"sync": map[string]any{"revision": sha, "syncOptions": []any{"ServerSideApply=true"}}, "initiatedBy": map[string]any{"automated": true}},
				"syncResult": map[string]any{"revision": sha, "resources": syncResources, "source": source}},
		},
	}
	ks := map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": name, "namespace": "bench"},
		"spec": map[string]any{"interval": "10m", "path": "./apps/" + name, "prune": true, "wait": true, "timeout": "5m",
			"sourceRef": map[string]any{"kind": "GitRepository", "name": "flux-system"}},
	}
	ksStatus := map[string]any{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": name, "namespace": "bench"},
		"status": map[string]any{"observedGeneration": int64(1), "lastAppliedRevision": "main@sha1:" + sha, "lastAttemptedRevision": "main@sha1:" + sha,
			"conditions": []any{cond("Ready", "ReconciliationSucceeded", "Applied revision: main@sha1:"+sha), cond("Healthy", "Succeeded", "Health check passed in 2.1s")},
			"inventory":  map[string]any{"entries": inventory}}}
	var releases []any
	for j := range 5 {
		releases = append(releases, map[string]any{"name": name, "namespace": "apps", "version": int64(j + 1), "status": "superseded",
			"chartName": "podinfo", "chartVersion": "6.7.0", "appVersion": "6.7.0", "configDigest": "sha256:" + fmt.Sprintf("%064x", j),
			"digest": "sha256:" + fmt.Sprintf("%064x", j+100), "firstDeployed": now, "lastDeployed": now})
	}
	hr := map[string]any{
		"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
		"metadata": map[string]any{"name": name, "namespace": "bench"},
		"spec": map[string]any{"interval": "5m", "releaseName": name, "targetNamespace": "apps",
			"chart":  map[string]any{"spec": map[string]any{"chart": "podinfo", "version": "6.7.0", "sourceRef": map[string]any{"kind": "HelmRepository", "name": "podinfo"}}},
			"values": map[string]any{"replicaCount": int64(2), "ingress": map[string]any{"enabled": true, "hosts": []any{map[string]any{"host": name + ".example.com"}}}, "extra": values}},
	}
	hrStatus := map[string]any{"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
		"metadata": map[string]any{"name": name, "namespace": "bench"},
		"status": map[string]any{"observedGeneration": int64(1), "history": releases, "lastAttemptedRevision": "6.7.0",
			"lastAttemptedConfigDigest": "sha256:" + fmt.Sprintf("%064x", i), "helmChart": "bench/bench-" + name,
			"conditions": []any{cond("Ready", "UpgradeSucceeded", "Helm upgrade succeeded for release apps/"+name+".v5 with chart podinfo@6.7.0"), cond("Released", "UpgradeSucceeded", "Helm upgrade succeeded")}}}

	apply := func(gvr schema.GroupVersionResource, obj map[string]any, manager string, sub ...string) error {
		u := &unstructured.Unstructured{Object: obj}
		raw, err := u.MarshalJSON()
		if err != nil {
			return err
		}
		force := true
		_, err = dyn.Resource(gvr).Namespace("bench").Patch(ctx, name, types.ApplyPatchType, raw, metav1.PatchOptions{FieldManager: manager, Force: &force}, sub...)
		return err
	}
	for _, step := range []func() error{
		func() error { return apply(providers.ApplicationGVR, app, "argocd-application-controller") },
		func() error { return apply(providers.KustomizationGVR, ks, "kustomize-controller") },
		func() error { return apply(providers.KustomizationGVR, ksStatus, "kustomize-controller", "status") },
		func() error { return apply(providers.HelmReleaseGVR, hr, "kustomize-controller") },
		func() error { return apply(providers.HelmReleaseGVR, hrStatus, "helm-controller", "status") },
	} {
		if err := step(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}
