#!/usr/bin/env bash
# make bench-watch: measures `kubectl infer-hpa watch` on the local GKE twin
# (test/e2e TestWatchBenchmark): frame delay from an HPA status update to the
# tmux screen, idle CPU over 60 s (BENCH_IDLE), peak RSS, LIST requests after
# start-up; and the cost of one frame in-process (BenchmarkRender120x40).
# Not part of CI. Needs tmux. The twin part takes /tmp/twin.lock, so that
# only one twin runs on the machine at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
twin_bin=$(bash hack/build-twin.sh | tail -n 1)
bash hack/build-adapter.sh "$twin_bin" >/dev/null
report=$(mktemp)
trap 'rm -f "$report"' EXIT
echo "== one frame at 120x40 in-process (pkg/tui)"
go test -run '^$' -bench 'Render120x40' -benchtime 100x ./pkg/tui/ | grep -E '^Benchmark'
echo "== watch on the twin"
flock /tmp/twin.lock env INFER_HPA_E2E=1 INFER_HPA_BENCH_WATCH=1 INFER_HPA_TWIN_BIN="$twin_bin" \
	INFER_HPA_BENCH_IDLE="${BENCH_IDLE:-60s}" INFER_HPA_BENCH_REPORT="$report" \
	go test -count=1 -timeout 15m -run '^TestWatchBenchmark$' ./test/e2e/ >/dev/null || {
	echo "bench-watch: the benchmark failed; rerun with: INFER_HPA_E2E=1 INFER_HPA_BENCH_WATCH=1 go test -v -run TestWatchBenchmark ./test/e2e/" >&2
	exit 1
}
cat "$report"
echo "load average while measuring: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
