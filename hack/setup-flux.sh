#!/usr/bin/env bash
# Builds the real Flux controllers the end-to-end verification tests run
# against, and prints the directory to use as GITOPS_BOT_FLUX_ASSETS:
#   bin/source-controller, bin/kustomize-controller, bin/helm-controller
#   crds/*.yaml (every CRD the three controllers watch)
# Each controller is built the way hack/setup-envtest.sh builds the
# kube-apiserver: a throwaway module that requires the controller, replaces
# its `api` submodule (a local replace upstream) with the published version
# and copies the controller's own non-local replace lines.
# The result is cached outside the repository, keyed by version.
set -euo pipefail

SOURCE_CONTROLLER=${SOURCE_CONTROLLER:-v1.9.4}
KUSTOMIZE_CONTROLLER=${KUSTOMIZE_CONTROLLER:-v1.9.5}
HELM_CONTROLLER=${HELM_CONTROLLER:-v1.6.0}
CACHE=${GITOPS_BOT_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/gitops-bot}
ASSETS="$CACHE/flux/source-$SOURCE_CONTROLLER-kustomize-$KUSTOMIZE_CONTROLLER-helm-$HELM_CONTROLLER"
mkdir -p "$ASSETS/bin" "$ASSETS/crds"

log() { echo "setup-flux: $*" >&2; }

# build <name> <version>: github.com/fluxcd/<name>@<version>, main package at its root.
build() {
  local name=$1 version=$2 mod="github.com/fluxcd/$1"
  [ -x "$ASSETS/bin/$name" ] && [ -n "$(ls "$ASSETS/crds/$name-"* 2>/dev/null)" ] && return 0
  log "building $name $version (minutes cold, once)"
  local work
  work=$(mktemp -d)
  local info gomod dir
  info=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "$mod@$version")
  gomod=$(sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' <<<"$info")
  dir=$(sed -n 's/.*"Dir": "\(.*\)".*/\1/p' <<<"$info")
  {
    echo "module $name-build"
    echo "go $(go env GOVERSION | sed 's/^go//; s/\.[0-9]*$//')"
    echo "require $mod $version"
    echo "replace $mod/api => $mod/api $version"
    # Single-line non-local replaces, then those inside replace ( ... ) blocks.
    sed -n 's#^replace \([^ (]*\) => \([^ .][^ ]*\) \(v[^ ]*\)$#replace \1 => \2 \3#p' "$gomod"
    awk '/^replace \($/ {b=1; next} b && /^\)/ {b=0} b && $3 !~ /^\./ && NF == 4 {print "replace " $1 " => " $3 " " $4}' "$gomod"
  } >"$work/go.mod"
  (
    cd "$work"
    export GOFLAGS=-mod=mod
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$ASSETS/bin/$name.tmp" "$mod"
  ) >&2
  mv "$ASSETS/bin/$name.tmp" "$ASSETS/bin/$name"
  for crd in "$dir"/config/crd/bases/*.yaml; do
    cp "$crd" "$ASSETS/crds/$name-$(basename "$crd")"
  done
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}

build source-controller "$SOURCE_CONTROLLER"
build kustomize-controller "$KUSTOMIZE_CONTROLLER"
build helm-controller "$HELM_CONTROLLER"

echo "$ASSETS"
