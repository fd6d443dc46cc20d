#!/usr/bin/env bash
# End-to-end tests of setup, diff and cleanup on the local GKE twin, with
# the real custom-metrics-stackdriver-adapter (see docs/twin.md).
# Builds the twin and the adapter with their cached build scripts
# (hack/build-twin.sh: seconds when cached, ~8 min cold), then runs test/e2e
# against it. TestSkipIAMCrashLoopThenGrant runs gcloud (it skips without).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(bash hack/build-twin.sh | tail -n 1)
bash hack/build-adapter.sh "$bin" >/dev/null
# The watch test runs the dashboard in tmux (it skips, saying so, without it).
if ! command -v tmux >/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "ci-e2e: installing tmux for the watch test" >&2
		apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null
	else
		echo "ci-e2e: tmux not installed and not root: the watch tests will be SKIPPED" >&2
	fi
fi
# The watch tests run the built plugin (in tmux and with --plain), and the
# scaling tests its load generator.
plugin_dir=$(mktemp -d)
trap 'rm -rf "$plugin_dir"' EXIT
go build -o "$plugin_dir/kubectl-infer_hpa" ./cmd/kubectl-infer-hpa
echo "== go test (e2e on the twin: $bin)"
INFER_HPA_PLUGIN_BIN="$plugin_dir/kubectl-infer_hpa" INFER_HPA_TWIN_BIN="$bin" INFER_HPA_E2E=1 go test -count=1 -timeout 20m ./test/e2e/
