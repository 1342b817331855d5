// Package deploy holds the manifests that run gitops-bot itself; the test
// builds them with kustomize so a broken manifest never ships.
package deploy

import _ "embed"

// ReaderRBAC is the bot's ClusterRole and its binding, as shipped; the
// cluster tests run the verifier as a user bound to exactly this role.
//
//go:embed base/rbac.yaml
var ReaderRBAC []byte
