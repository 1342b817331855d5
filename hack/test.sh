#!/usr/bin/env bash
# The project's test command. It prepares what the tests need (git for the
# fake hosts' git endpoints; a real kube-apiserver and etcd, see
# hack/setup-envtest.sh; the real Flux controllers, see hack/setup-flux.sh;
# the real Argo CD, see hack/setup-argocd.sh; all cached after the first
# run), then runs go vet and go test -race over the whole module.
set -euo pipefail
cd "$(dirname "$0")/.."
# The fake hosts serve git with git's own http-backend (Debian's git); the
# status page is loaded in Debian's headless Chromium; Argo CD keeps its
# cache in Redis (Debian's redis-server, started by the tests on a loopback
# port).
need=()
if ! command -v git >/dev/null 2>&1 || [ ! -x "$(git --exec-path 2>/dev/null)/git-http-backend" ]; then
  need+=(git)
fi
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  echo "test: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${need[@]}" >&2
fi
KUBEBUILDER_ASSETS=$(hack/setup-envtest.sh)
export KUBEBUILDER_ASSETS
GITOPS_BOT_FLUX_ASSETS=$(hack/setup-flux.sh)
export GITOPS_BOT_FLUX_ASSETS
GITOPS_BOT_ARGOCD_ASSETS=$(hack/setup-argocd.sh)
export GITOPS_BOT_ARGOCD_ASSETS
# Cluster and browser tests fail rather than skip when the control plane,
# the Flux controllers, Argo CD or Chromium are missing.
export GITOPS_BOT_REQUIRE_ENVTEST=1 GITOPS_BOT_REQUIRE_FLUX=1 GITOPS_BOT_REQUIRE_ARGOCD=1 GITOPS_BOT_REQUIRE_BROWSER=1
go vet ./...
# The end-to-end tests against the real controllers take minutes in one
# package; the default 10 min per package is too close.
go test -race -count=1 -timeout 30m ./... "$@"
