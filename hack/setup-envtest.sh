#!/usr/bin/env bash
# Prepares the real control plane the cluster tests run against, and prints
# the directory to use as KUBEBUILDER_ASSETS:
#   - kube-apiserver built from the Go module proxy: a throwaway module that
#     requires k8s.io/kubernetes and replaces each staging module with its
#     published v0.x release;
#   - etcd built from the Go module proxy at the version kubernetes requires
#     (a distribution's older etcd lacks the watch progress requests the API
#     server needs to stream lists to informers, as real clusters do).
# The result is cached outside the repository, keyed by version.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.36.3}
CACHE=${GITOPS_BOT_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/gitops-bot}
ASSETS="$CACHE/envtest/$K8S_VERSION"
mkdir -p "$ASSETS"

log() { echo "setup-envtest: $*" >&2; }

if [ ! -x "$ASSETS/etcd" ] || [ -L "$ASSETS/etcd" ]; then
  etcd_version=$(cd "$(mktemp -d)" && sed -n 's#^[[:space:]]*go.etcd.io/etcd/server/v3 \(v[^ ]*\).*#\1#p' \
    "$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')")
  log "building etcd $etcd_version (under a minute, once)"
  work=$(mktemp -d)
  printf 'module etcd-build\ngo %s\nrequire go.etcd.io/etcd/server/v3 %s\n' "$(go env GOVERSION | sed 's/^go//; s/\.[0-9]*$//')" "$etcd_version" >"$work/go.mod"
  (
    cd "$work"
    GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$ASSETS/etcd.tmp" go.etcd.io/etcd/server/v3
  ) >&2
  rm -rf "$work" "$ASSETS/etcd"
  mv "$ASSETS/etcd.tmp" "$ASSETS/etcd"
fi

# A binary built before the version stamp (below) says v0.0.0-master: build again.
if [ ! -x "$ASSETS/kube-apiserver" ] || [ "$("$ASSETS/kube-apiserver" --version 2>/dev/null)" != "Kubernetes v$K8S_VERSION" ]; then
  log "building kube-apiserver v$K8S_VERSION (a few minutes, once)"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  staging_version="v0.${K8S_VERSION#*.}"
  minor=${K8S_VERSION#*.}
  minor=${minor%%.*}
  gomod=$(cd "$work" && go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    echo "module kube-apiserver-build"
    echo "go $(go env GOVERSION | sed 's/^go//; s/\.[0-9]*$//')"
    echo "require k8s.io/kubernetes v$K8S_VERSION"
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#replace \1 => \1 '"$staging_version"'#p' "$gomod"
  } >"$work/go.mod"
  (
    cd "$work"
    # No "go mod tidy": with no package of this module importing
    # kubernetes it drops the requirement, and the build then takes the
    # newest kubernetes, which the pinned staging modules do not fit.
    export GOFLAGS=-mod=mod
    # The version stamps a release build sets: without them /version says
    # v0.0.0-master, and Argo CD passes that to Helm as --kube-version, so a
    # chart with a kubeVersion constraint fails to render.
    v=k8s.io/component-base/version
    stamp="-X $v.gitVersion=v$K8S_VERSION -X $v.gitMajor=${K8S_VERSION%%.*} -X $v.gitMinor=$minor -X $v.gitTreeState=clean"
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $stamp" -o "$ASSETS/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
  ) >&2
  mv "$ASSETS/kube-apiserver.tmp" "$ASSETS/kube-apiserver"
fi

echo "$ASSETS"
