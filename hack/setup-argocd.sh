#!/usr/bin/env bash
# Builds the real Argo CD the end-to-end verification and rendering tests run
# against, and prints the directory to use as GITOPS_BOT_ARGOCD_ASSETS:
#   bin/argocd      the multi-call binary (ARGOCD_BINARY_NAME picks the
#                   application-controller, repo-server or applicationset-controller)
#   bin/kustomize   what the repo-server runs for kustomize sources
#   bin/helm        what the repo-server runs for Helm sources
#   bin/git-verify-wrapper.sh, bin/gpg-wrapper.sh
#                   Argo CD's own wrappers: the repo-server runs them by name
#                   from its PATH, and without them every manifest generation
#                   fails with a misleading "permission denied"
#   crds/*.yaml     Argo CD's CRDs
# Argo CD 3.6 needs Go 1.27: this script alone sets GOTOOLCHAIN (the go
# command fetches that toolchain from the module proxy); the project stays on
# its own Go. Argo CD and helm come from one throwaway module, as
# hack/setup-flux.sh makes them: it requires Argo CD, copies the non-local
# replace lines of Argo CD's go.mod (the k8s.io/* pins among them: without
# them the build asks for k8s.io/kubelet@v0.0.0) and requires helm beside
# it, so the Kubernetes packages they share are compiled once. kustomize
# has a module of its own: it needs a newer kube-openapi (on
# structured-merge-diff v7) than the Kubernetes 0.37.0 that Argo CD pins.
# The result is cached outside the repository, keyed by version.
set -euo pipefail

ARGOCD=${ARGOCD:-v3.6.2}
KUSTOMIZE=${KUSTOMIZE:-v5.8.3}
HELM=${HELM:-v4.3.2}
export GOTOOLCHAIN=${ARGOCD_GOTOOLCHAIN:-go1.27.3}
CACHE=${GITOPS_BOT_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/gitops-bot}
ASSETS="$CACHE/argocd/argocd-$ARGOCD-kustomize-$KUSTOMIZE-helm-$HELM"
mkdir -p "$ASSETS/bin" "$ASSETS/crds"

log() { echo "setup-argocd: $*" >&2; }

done_marker="$ASSETS/.complete"
if [ -f "$done_marker" ]; then
  echo "$ASSETS"
  exit 0
fi

log "building argocd $ARGOCD, kustomize $KUSTOMIZE and helm $HELM with $GOTOOLCHAIN (about half an hour cold, once)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mod=github.com/argoproj/argo-cd/v3
info=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "$mod@$ARGOCD")
gomod=$(sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' <<<"$info")
dir=$(sed -n 's/.*"Dir": "\(.*\)".*/\1/p' <<<"$info")
gover=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod")
{
  echo "module argocd-build"
  echo "go $gover"
  echo "require $mod $ARGOCD"
  echo "require helm.sh/helm/v4 $HELM"
  # The gitops-engine is a local replace upstream; its tag is published.
  echo "replace github.com/argoproj/argo-cd/gitops-engine/v3 => github.com/argoproj/argo-cd/gitops-engine/v3 $ARGOCD"
  sed -n 's#^replace \([^ (]*\) => \([^ .][^ ]*\) \(v[^ ]*\)$#replace \1 => \2 \3#p' "$gomod"
  awk '/^replace \($/ {b=1; next} b && /^\)/ {b=0} b && $3 !~ /^\./ && NF == 4 {print "replace " $1 " => " $3 " " $4}' "$gomod"
} >"$work/go.mod"
# Blank imports keep both requirements through go mod tidy.
cat >"$work/tools.go" <<'EOF'
//go:build tools

package tools

import (
	_ "github.com/argoproj/argo-cd/v3/cmd"
	_ "helm.sh/helm/v4/cmd/helm"
)
EOF
(
  cd "$work"
  export GOFLAGS=-mod=mod CGO_ENABLED=0
  go mod tidy -e >/dev/null 2>&1 || true
  go build -trimpath -ldflags "-s -w -X $mod/common.version=${ARGOCD#v}" -o "$ASSETS/bin/argocd.tmp" "$mod/cmd"
  go build -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM" \
    -o "$ASSETS/bin/helm.tmp" helm.sh/helm/v4/cmd/helm
) >&2
kwork=$(mktemp -d)
printf 'module kustomize-build\ngo %s\nrequire sigs.k8s.io/kustomize/kustomize/v5 %s\n' "$gover" "$KUSTOMIZE" >"$kwork/go.mod"
(
  cd "$kwork"
  export GOFLAGS=-mod=mod CGO_ENABLED=0
  go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kustomize/api/provenance.version=$KUSTOMIZE" \
    -o "$ASSETS/bin/kustomize.tmp" sigs.k8s.io/kustomize/kustomize/v5
) >&2
rm -rf "$kwork"
for b in argocd kustomize helm; do mv "$ASSETS/bin/$b.tmp" "$ASSETS/bin/$b"; done
install -m 0755 "$dir/hack/git-verify-wrapper.sh" "$dir/hack/gpg-wrapper.sh" "$ASSETS/bin/"
rm -f "$ASSETS"/crds/*.yaml
for crd in "$dir"/manifests/crds/*-crd.yaml; do
  install -m 0644 "$crd" "$ASSETS/crds/"
done
touch "$done_marker"
echo "$ASSETS"
