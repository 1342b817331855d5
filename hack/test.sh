#!/usr/bin/env bash
# The project's test command. It prepares what the tests need (a real
# kube-apiserver and etcd, see hack/setup-envtest.sh, cached after the first
# run), then runs go vet and go test over the whole module.
set -euo pipefail
cd "$(dirname "$0")/.."
KUBEBUILDER_ASSETS=$(hack/setup-envtest.sh)
export KUBEBUILDER_ASSETS
# Cluster tests fail rather than skip when the control plane is missing.
export GITOPS_BOT_REQUIRE_ENVTEST=1
go vet ./...
go test -race -count=1 ./... "$@"
