#!/usr/bin/env bash
# Compares `kubectl infer-hpa render` with what a user would otherwise run:
# `kubectl kustomize` of the same exported directory. Prints the mean wall
# time of each over N runs and the ratio. Also prints the in-process render
# benchmark (go test -bench).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-20}
make -s build
bin=./bin/kubectl-infer_hpa
args=(--deployment vllm-gemma-deployment --pod-label app=gemma-server --metrics-port 8081
      --metric running=4 --metric waiting --metric kv-cache=0.8 --metric gpu-util --behavior tutorial)
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
"$bin" render "${args[@]}" --export "$dir/k" 2>/dev/null
cmp <("$bin" render "${args[@]}") <(kubectl kustomize "$dir/k") || { echo "outputs differ"; exit 1; }

mean_ms() { # command... ; prints the mean wall time in ms over N runs
  local start end
  start=$(date +%s%N)
  for _ in $(seq "$N"); do "$@" >/dev/null; done
  end=$(date +%s%N)
  echo $(( (end - start) / N / 1000000 ))
}
ours=$(mean_ms "$bin" render "${args[@]}")
theirs=$(mean_ms kubectl kustomize "$dir/k")
echo "render (process):              ${ours} ms"
echo "kubectl kustomize (process):   ${theirs} ms"
awk -v a="$ours" -v b="$theirs" 'BEGIN { if (a > 0) printf "ratio kubectl kustomize / render: %.2fx\n", b / a }'
go test -run '^$' -bench BenchmarkRender -benchmem ./pkg/kustomize | grep Benchmark
