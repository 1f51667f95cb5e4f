#!/usr/bin/env bash
# Builds bin/csclr with the flags of every other Go build `csclr dev up`
# makes (pkg/devcluster buildFlags, ko.yaml's defaultFlags, ko's -trimpath,
# no cgo): with the same flags, module versions and environment the go
# command reuses a compiled package across builds, so KEDA's images (built
# on a cold machine right after this) find client-go, controller-runtime,
# gRPC and OpenTelemetry already compiled here.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
CGO_ENABLED=0 go build -trimpath -gcflags=all=-dwarf=false -ldflags='-s -w' -o bin/csclr ./cmd/csclr
