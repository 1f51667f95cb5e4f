#!/usr/bin/env bash
# csclr's tests, in three tiers:
#   unit         go vet, gofmt, `go test ./...` (no external parts), -race on the data path
#   integration  a real kube-apiserver + etcd (envtest on binaries `csclr dev` builds and caches)
#   e2e          the full local cluster: brought up, used and torn down by test/e2e
# Usage: hack/test.sh [unit|integration|e2e|all]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."

tier=${1:-all}
mkdir -p bin
hack/build-cli.sh

# The packages requests pass through, and what they use on the way: tested
# with -race.
data_path() {
  go list ./pkg/queue/... ./pkg/activator/... ./pkg/scaler/... ./pkg/gateway/... ./pkg/stats/... \
    ./pkg/h1/... ./pkg/forward/... ./pkg/logbuf/... ./pkg/tracing/... ./pkg/deadline/...
}

step() { printf '\n=== %s (%s)\n' "$*" "$(date +%T)"; }

unit() {
  step "unit: vet and format"
  # One pass over every file: the tier tags only add files.
  go vet -tags integration,e2e ./...
  unformatted=$(gofmt -l $(git ls-files '*.go'))
  if [ -n "$unformatted" ]; then echo "not gofmt-ed: $unformatted" >&2; exit 1; fi
  step "unit: go test ./..."
  go test ./...
  step "unit: -race on the data path"
  go test -race $(data_path)
}

integration() {
  step "integration: building (once) etcd and kube-apiserver"
  KUBEBUILDER_ASSETS=$(bin/csclr dev envtest-assets)
  export KUBEBUILDER_ASSETS
  step "integration: go test -tags integration ./... (-race on the data path)"
  go test -tags integration -timeout 30m $(go list ./... | grep -vxF "$(data_path)")
  go test -tags integration -race -timeout 30m $(data_path)
}

e2e() {
  step "e2e: Debian packages for the node"
  bin/csclr dev deps
  step "e2e: go test -tags e2e ./test/e2e/ (brings the cluster up and down)"
  go test -tags e2e -timeout 75m -v -count=1 ./test/e2e/...
}

case "$tier" in
  unit) unit ;;
  integration) integration ;;
  e2e) e2e ;;
  all) unit; integration; e2e ;;
  *) echo "usage: $0 [unit|integration|e2e|all]" >&2; exit 2 ;;
esac
step "done: $tier"
