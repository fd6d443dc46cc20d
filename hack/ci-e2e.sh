#!/usr/bin/env bash
# End-to-end tests of setup, diff and cleanup on the local GKE twin.
# Builds the twin with its cached build script (hack/build-twin.sh: seconds
# when cached, ~8 min cold), then runs test/e2e against it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f hack/build-twin.sh ]; then
	echo "ci-e2e: hack/build-twin.sh is not in this tree (the twin has not been merged): e2e tests NOT run" >&2
	exit 0
fi
bin=$(bash hack/build-twin.sh | tail -n 1)
echo "== go test (e2e on the twin: $bin)"
INFER_HPA_TWIN_BIN="$bin" INFER_HPA_E2E=1 go test -count=1 -timeout 20m ./test/e2e/
