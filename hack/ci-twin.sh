#!/usr/bin/env bash
# CI step for the local GKE twin (test/twin, its own Go module): build its
# binaries (cached, see hack/build-twin.sh) and run its tests against a real
# control plane. As root the tests run in a network namespace with only lo.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v kubectl >/dev/null; then
	echo "ci-twin: kubectl not on PATH; the twin's tests drive the real kubectl" >&2
	exit 1
fi

echo "== twin: build (cached)"
start=$(date +%s)
bin=$(hack/build-twin.sh | tail -n 1)
hack/build-adapter.sh "$bin" >/dev/null
echo "twin: binaries ready in $(( $(date +%s) - start ))s: $bin"

cd test/twin
echo "== twin: gofmt + go vet"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then echo "gofmt needed:"; echo "$unformatted"; exit 1; fi
go vet ./...

echo "== twin: go test"
INFER_HPA_TWIN_BIN="$bin" go test -count=1 -timeout 15m ./...
