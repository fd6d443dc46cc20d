#!/usr/bin/env bash
# make bench-scaling: the same load step against the tutorial's HPA and
# against what `tune` recommends with the gpu preset, on one `twin up --demo`
# (the real HPA controller, the Managed Prometheus emulation, local Cloud
# Monitoring, the real Stackdriver adapter). test/e2e TestBenchScaling; not
# part of CI; about 25 minutes. It takes /tmp/twin.lock, so that only one
# twin runs on the machine at a time.
#
#   BENCH_HPA_SYNC=15s     the controller manager's HPA sync period (Kubernetes' default)
#   BENCH_MODEL_LOAD=30s   a new vLLM pod's start to Ready (model load)
#   BENCH_MAX_NUM_SEQS=8   the simulated vLLM's batch limit: one pod's knee
#   BENCH_CLIENTS=16       the step's concurrent clients
#   BENCH_BASELINE=1m BENCH_HOLD=4m BENCH_TAIL=4m   1 client, the step held, then none
#   BENCH_SLO=ttft-p90=500ms   tune's SLO (and what "enough replicas" means)
#   BENCH_MAX=6            the HPA's --max
#   BENCH_SCALING_OUT=FILE also write the table there
set -euo pipefail
cd "$(dirname "$0")/.."
twin_bin=$(bash hack/build-twin.sh | tail -n 1)
bash hack/build-adapter.sh "$twin_bin" >/dev/null
plugin_dir=$(mktemp -d)
report=$(mktemp)
log=$(mktemp)
trap 'rm -rf "$plugin_dir" "$report"' EXIT
go build -o "$plugin_dir/kubectl-infer_hpa" ./cmd/kubectl-infer-hpa
echo "bench-scaling: waiting for /tmp/twin.lock, then about 25 minutes (log: $log)" >&2
flock /tmp/twin.lock env INFER_HPA_E2E=1 INFER_HPA_BENCH_SCALING=1 INFER_HPA_TWIN_BIN="$twin_bin" \
	INFER_HPA_PLUGIN_BIN="$plugin_dir/kubectl-infer_hpa" BENCH_SCALING_OUT="$report" \
	go test -count=1 -timeout 60m -v -run '^TestBenchScaling$' ./test/e2e/ >"$log" 2>&1 || {
	tail -n 40 "$log" >&2
	echo "bench-scaling: the benchmark failed; the whole log is $log" >&2
	exit 1
}
cat "$report"
if [ -n "${BENCH_SCALING_OUT:-}" ]; then cp "$report" "$BENCH_SCALING_OUT"; fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
