#!/usr/bin/env bash
# Builds the release-test tools of hack/tools/go.mod (krew, validate-krew-manifest
# from sigs.k8s.io/krew, and servedir) into a cache directory keyed by
# go.mod, go.sum, the sources and the Go version, and prints that directory.
# A second run with nothing changed builds nothing.
#   PATH="$(hack/tools/tools.sh):$PATH"
set -euo pipefail
cd "$(dirname "$0")"
cache="${INFER_HPA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/infer-hpa}/tools"
key=$( (go version; cat go.mod go.sum servedir/*.go) | sha256sum | cut -c1-16)
bin="$cache/$key"
if [ ! -x "$bin/kubectl-krew" ] || [ ! -x "$bin/validate-krew-manifest" ] || [ ! -x "$bin/servedir" ]; then
  rm -rf "$bin.tmp" && mkdir -p "$bin.tmp"
  echo "building krew tools into $bin" >&2
  CGO_ENABLED=0 go build -trimpath -o "$bin.tmp/" sigs.k8s.io/krew/cmd/krew sigs.k8s.io/krew/cmd/validate-krew-manifest ./servedir >&2
  # kubectl finds krew as a plugin only under this name.
  mv "$bin.tmp/krew" "$bin.tmp/kubectl-krew"
  rm -rf "$bin" && mv "$bin.tmp" "$bin"
fi
echo "$bin"
