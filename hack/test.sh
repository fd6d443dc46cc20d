#!/usr/bin/env bash
# The project's test command: vet, format check, and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every step's output is also kept in a log, to print one closing line that
# counts the Go test packages that passed (a failing step stops the run).
log=$(mktemp)
trap 'rm -f "$log"' EXIT

steps() {
  echo "== gofmt"
  unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
  if [ -n "$unformatted" ]; then echo "gofmt needed:"; echo "$unformatted"; exit 1; fi

  echo "== go vet"
  go vet ./...

  echo "== staticcheck (plugin module; make lint also checks test/twin)"
  ./hack/lint.sh plugin

  echo "== go test (plugin)"
  go test -count=1 ./...
  echo "== flags table (docs/flags.md from the cobra commands)"; go run ./hack/flagsdoc -check docs/flags.md

  echo "== twin (test/twin: local GKE twin, cached build + tests)"
  ./hack/ci-twin.sh

  echo "== e2e (setup, diff, cleanup on the twin)"
  ./hack/ci-e2e.sh

  echo "== distribution: make dist, reproducibility, krew manifest, real krew install"
  ./hack/ci-krew.sh
}

set +e
( set -e; steps ) 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

passed=$(grep -c '^ok ' "$log" || true)
failed=$(grep -c '^FAIL' "$log" || true)
echo
[ "$status" = 0 ] || [ "$failed" != 0 ] || failed=1
echo "packages: ${passed} passed, ${failed} failed"
exit "$status"
