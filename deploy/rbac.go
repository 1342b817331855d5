// Package deploy holds the manifests that run gitops-bot itself; the test
// builds them with kustomize so a broken manifest never ships.
package deploy

import "embed"

// ReaderRBAC is the bot's ClusterRole and its binding, as shipped; the
// cluster tests run the verifier as a user bound to exactly this role.
//
//go:embed base/rbac.yaml
var ReaderRBAC []byte

// StoreRBAC is the Role (and binding) of the Kubernetes store: the bot's
// own kinds and Leases in its namespace.
//
//go:embed base/store-rbac.yaml
var StoreRBAC []byte

// StoreCRDs are the bot's own kinds, kept by the Kubernetes store.
//
//go:embed base/crd-deliveries.yaml base/crd-verifications.yaml base/crd-alertstates.yaml
var StoreCRDs embed.FS
