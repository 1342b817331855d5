// Package gitopsbot holds what the module ships at its root: the GitHub
// App's manifest (app.yml), which the setup page hands to GitHub.
package gitopsbot

import _ "embed"

// AppManifest is app.yml: the GitHub App's name, events and permissions.
//
//go:embed app.yml
var AppManifest []byte
