#!/usr/bin/env bash
# Builds the real custom-metrics-stackdriver-adapter for the local GKE twin
# and prints the path of the binary (last line of stdout).
#
# Its source is not part of this repository: it is read from
# ${INFER_HPA_ADAPTER_SRC:-<repo>/../shared/third_party/custom-metrics-stackdriver-adapter}
# (see that folder's README), copied to a temporary folder, and built there
# with one change: sigs.k8s.io/metrics-server v0.8.1, which the module proxy
# refuses, is replaced by v0.8.0 (only the unused core-metrics API uses it).
#
# The binary is cached like the twin's other heavy binaries, keyed by a hash
# of the source, this script and the Go version, in
# ${INFER_HPA_TWIN_CACHE:-$HOME/.cache/infer-hpa-twin}/adapter-<hash>/adapter.
# Cold: about 4 minutes and 1.5 GB on 2 cores; cached: instant.
#
# With a folder argument (the one hack/build-twin.sh prints) it also links
# the binary there as custom-metrics-stackdriver-adapter, where the twin
# looks for it. (It is a separate script so that the twin's heavy-build
# hash, which covers build-twin.sh, does not change with it.)
set -euo pipefail
link="${1:-}"
[ -z "$link" ] || link="$(cd "$link" && pwd)"
root="$(cd "$(dirname "$0")/.." && pwd)"
src="${INFER_HPA_ADAPTER_SRC:-$root/../shared/third_party/custom-metrics-stackdriver-adapter}"
cache="${INFER_HPA_TWIN_CACHE:-$HOME/.cache/infer-hpa-twin}"
if [ ! -f "$src/go.mod" ] || [ ! -f "$src/adapter.go" ]; then
	echo "build-adapter: no adapter source in $src (set INFER_HPA_ADAPTER_SRC to the custom-metrics-stackdriver-adapter folder)" >&2
	exit 1
fi
src="$(cd "$src" && pwd)"
hash=$( { (cd "$src" && find . -type f ! -path './examples/*' | LC_ALL=C sort | xargs sha256sum); cat "$root/hack/build-adapter.sh"; go version; } | sha256sum | cut -c1-16)
dir="$cache/adapter-$hash"
if [ -x "$dir/adapter" ]; then
	echo "build-adapter: cached in $dir" >&2
	[ -z "$link" ] || ln -sfn "$dir/adapter" "$link/custom-metrics-stackdriver-adapter"
	echo "$dir/adapter"
	exit 0
fi
echo "build-adapter: building the real custom-metrics-stackdriver-adapter from $src (cold: ~4 min on 2 cores)" >&2
start=$(date +%s)
mkdir -p "$cache"
tmp="$(mktemp -d "$cache/.adapter-tmp-XXXXXX")"
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
cp -r "$src" "$tmp/src"
cd "$tmp/src"
go mod edit -replace sigs.k8s.io/metrics-server@v0.8.1=sigs.k8s.io/metrics-server@v0.8.0
mkdir -p "$tmp/out"
GOFLAGS=-mod=mod CGO_ENABLED=0 nice go build -trimpath -ldflags '-s -w' -o "$tmp/out/adapter" .
rm -rf "$dir" && mv "$tmp/out" "$dir"
echo "build-adapter: built in $(( $(date +%s) - start ))s" >&2
# Keep only the newest two cached adapter builds.
ls -1dt "$cache"/adapter-*/ 2>/dev/null | tail -n +3 | xargs -r rm -rf
[ -z "$link" ] || ln -sfn "$dir/adapter" "$link/custom-metrics-stackdriver-adapter"
echo "$dir/adapter"
