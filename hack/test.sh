#!/usr/bin/env bash
# The project's test command: everything `go test` needs, then `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
go vet ./...
go test -count=1 ./... "$@"
