#!/usr/bin/env bash
# make demo: the tutorial on the local GKE twin, for a person to watch.
# Starts a twin (5 GPU nodes, HPA sync 2s), runs `kubectl infer-hpa setup`
# (Workload Identity granted in the local Google API server), steps the load
# up and down, and shows `kubectl infer-hpa watch` on this terminal. Quit
# with q; everything (setup's objects, the IAM grant, the twin) is removed
# on exit, also on ctrl-c or a kill of this script.
#
#   DEMO_STEP=15s     how long each load step lasts
#   DEMO_TIMEOUT=     stop watch after this long (e.g. 2m; default: until q)
set -euo pipefail
cd "$(dirname "$0")/.."
twin_bin=$(bash hack/build-twin.sh | tail -n 1)
echo "demo: building the plugin and the demo (test/e2e)" >&2
mkdir -p bin
go build -o bin/kubectl-infer_hpa ./cmd/kubectl-infer-hpa
go test -c -o bin/e2e.test ./test/e2e
state=$(mktemp -d -t infer-hpa-demo-XXXXXX)
# Backstop: if the demo process is killed before it stops the twin itself.
trap '"$twin_bin/twin" down --state-dir "$state/twin" >/dev/null 2>&1 || true; rm -rf "$state"' EXIT
INFER_HPA_E2E=1 INFER_HPA_DEMO=1 INFER_HPA_TWIN_BIN="$twin_bin" \
	INFER_HPA_PLUGIN_BIN="$PWD/bin/kubectl-infer_hpa" \
	INFER_HPA_E2E_STATE_DIR="$state/twin" INFER_HPA_E2E_TWIN_FLAGS="--gpu-nodes=5" \
	INFER_HPA_DEMO_STEP="${DEMO_STEP:-15s}" INFER_HPA_DEMO_TIMEOUT="${DEMO_TIMEOUT:-}" \
	bin/e2e.test -test.run '^TestDemo$' -test.v -test.timeout 0
