#!/usr/bin/env bash
# make demo: the tutorial on the local GKE twin, for a person to watch.
#
#   1. `twin up --demo`: a twin with simulated vLLM servers behind the
#      tutorial's vllm-gemma-deployment (1 replica) and vllm-service, the
#      Managed Prometheus emulation, the local Cloud Monitoring API, the
#      local Google API server (IAM, Cloud Resource Manager), and the real
#      custom-metrics-stackdriver-adapter run for the adapter pod;
#   2. `kubectl infer-hpa setup` (Workload Identity granted through the local
#      Google API server: the adapter's token comes from the twin's GKE
#      metadata server and Cloud Monitoring checks it on every call);
#   3. the twin's load driver (`twin load`) stepping the concurrency up and
#      down, again and again;
#   4. `kubectl infer-hpa watch` on this terminal. Quit with q.
#
# On exit (also ctrl-c, SIGTERM, SIGHUP) it stops the load, runs
# `kubectl infer-hpa cleanup --iam` and `twin down`.
#
#   DEMO_STEP=20s        how long each load step lasts
#   DEMO_STEPS="2 6 12 16 16 8 2 0 0"   concurrency of each step (0: no load)
#   DEMO_TIMEOUT=        stop watch after this long (e.g. 3m; default: until q)
#   DEMO_MODEL_LOAD=10s  time a new vLLM pod takes to load its model (Ready)
set -euo pipefail
cd "$(dirname "$0")/.."
twin_bin=$(bash hack/build-twin.sh | tail -n 1)
bash hack/build-adapter.sh "$twin_bin" >/dev/null
twin="$twin_bin/twin"
echo "demo: building the plugin" >&2
mkdir -p bin
go build -o bin/kubectl-infer_hpa ./cmd/kubectl-infer-hpa
plugin="$PWD/bin/kubectl-infer_hpa"
state=$(mktemp -d -t infer-hpa-demo-XXXXXX)
step=${DEMO_STEP:-20s}
steps=${DEMO_STEPS:-2 6 12 16 16 8 2 0 0}

load_pid=
cleanup() {
	set +e
	if [ -n "$load_pid" ]; then
		kill -- "-$load_pid" 2>/dev/null
		wait "$load_pid" 2>/dev/null
	fi
	if [ -f "$state/twin.env" ]; then
		echo "demo: cleaning up (kubectl infer-hpa cleanup --iam, twin down)" >&2
		"$plugin" cleanup -n default --iam >/dev/null
		"$twin" down --state-dir "$state" >/dev/null
	fi
	rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

"$twin" up --demo --state-dir "$state" --gpu-nodes 5 --hpa-sync-period 5s \
	--model-load-delay "${DEMO_MODEL_LOAD:-10s}" >/dev/null
set -a
# shellcheck disable=SC1091
. "$state/twin.env" # KUBECONFIG and the local Google API endpoints
set +a
echo "demo: twin up; kubectl infer-hpa setup" >&2
"$plugin" setup -n default --metric running=4 --behavior tutorial --max 5 --timeout 3m

# The load driver in its own process group, so that cleanup stops it whole.
set -m
(
	while :; do
		for c in $steps; do
			if [ "$c" = 0 ]; then
				sleep "$step"
			else
				"$twin" load --state-dir "$state" --service vllm-service --concurrency "$c" --duration "$step" >/dev/null 2>&1 || sleep 1
			fi
		done
	done
) &
load_pid=$!
set +m

"$plugin" watch vllm-gemma-deployment -n default --metrics-interval 2s ${DEMO_TIMEOUT:+--timeout "$DEMO_TIMEOUT"}
