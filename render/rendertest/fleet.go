// Package rendertest holds the fleet the benchmarks render.
package rendertest

import (
	"fmt"
	"runtime"
)

// Envs are the fleet's environments.
var Envs = []string{"dev", "staging", "prod"}

// Apps is how many applications make a fleet of 1,992 files.
const Apps = 166

// Fleet is a Flux fleet of n applications in three environments: per
// application a base (kustomization, Deployment, Service), an overlay per
// environment (kustomization with an images: entry, a replicas patch) and
// a Kustomization per environment: twelve files each, with a
// .gitops-bot.yaml listing the environments.
func Fleet(n int) map[string]string {
	files := map[string]string{}
	for i := 0; i < n; i++ {
		app := fmt.Sprintf("app%03d", i)
		base := "apps/" + app + "/base/"
		files[base+"kustomization.yaml"] = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n  - service.yaml\n"
		files[base+"deployment.yaml"] = fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: %s}\n  template:\n    metadata:\n      labels: {app: %s}\n    spec:\n      containers:\n        - name: %s\n          image: ghcr.io/acme/%s:1.0.0\n          resources:\n            requests: {cpu: 10m, memory: 32Mi}\n", app, app, app, app, app)
		files[base+"service.yaml"] = fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\nspec:\n  selector: {app: %s}\n  ports:\n    - port: 80\n", app, app)
		for _, env := range Envs {
			ov := "apps/" + app + "/overlays/" + env + "/"
			files[ov+"kustomization.yaml"] = fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: %s\nresources:\n  - ../../base\npatches:\n  - path: replicas.yaml\nimages:\n  - name: ghcr.io/acme/%s\n    newTag: 1.0.%d\n", env, app, i%7)
			files[ov+"replicas.yaml"] = fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  replicas: 2\n", app)
			files["clusters/"+env+"/"+app+".yaml"] = fmt.Sprintf("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: %s\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./apps/%s/overlays/%s\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n", app, app, env)
		}
	}
	files[".gitops-bot.yaml"] = "provider: flux\nenvironments:\n- {name: dev, dir: clusters/dev}\n- {name: staging, dir: clusters/staging}\n- {name: prod, dir: clusters/prod}\n"
	return files
}

// HeapMB is the most heap fn holds at once, sampled after it returns with
// what it built still reachable, in MB.
func HeapMB(fn func()) float64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	peak := after.HeapAlloc
	if after.HeapInuse > peak {
		peak = after.HeapInuse
	}
	return float64(peak-before.HeapAlloc) / (1 << 20)
}
