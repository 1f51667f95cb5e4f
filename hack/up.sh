#!/usr/bin/env bash
# The main job on the embedded default: install the node's Debian packages,
# build (once, cached) and start the local cluster with KEDA and csclr, and
# serve the sample.
set -euo pipefail
cd "$(dirname "$0")/.."
hack/build-cli.sh
bin/csclr dev deps
bin/csclr dev up
bin/csclr dev sample
echo
echo "Use the cluster:  eval \"\$(bin/csclr dev env)\"; kubectl get pods -A"
echo "Stop it:          bin/csclr dev down"
