#!/usr/bin/env bash
# Writes krew-manifest.yaml, or with --check fails if the committed one is not
# what the generator produces.
#
# The manifest describes the release archives of the version in VERSION, and
# those are built from the release commit: the last commit that changed
# VERSION (docs/RELEASE.md). That commit is checked out in a worktree, `make
# dist` runs there, and hack/krew-manifest (from the current tree) hashes its
# archives. Reproducible archives make the sha256 the same on every machine.
#
#   hack/krew-manifest.sh [--check] [--keep DIR]   # --keep: leave the release worktree in DIR
set -euo pipefail
cd "$(dirname "$0")/.."
check=false keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --check) check=true ;;
    --keep) keep="$2"; shift ;;
    *) echo "usage: $0 [--check] [--keep DIR]" >&2; exit 2 ;;
  esac
  shift
done

if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
  echo "error: shallow clone: the release commit may be missing; run git fetch --unshallow" >&2; exit 1
fi
release=$(git log -1 --format=%H -- VERSION)
if [ -z "$release" ]; then echo "error: VERSION is not committed: commit the version bump first" >&2; exit 1; fi
version=$(git show "$release:VERSION")
if [ "$version" != "$(cat VERSION)" ]; then
  echo "error: VERSION has an uncommitted change ($(cat VERSION)); commit the bump first, it makes the release commit" >&2; exit 1
fi

tmp=$(mktemp -d)
wt=${keep:-$tmp/release}
cleanup() {
  if [ -z "$keep" ]; then git worktree remove --force "$wt" >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
git worktree add --detach "$wt" "$release" >/dev/null 2>&1
echo "== release $version at ${release:0:12}: make dist in $wt" >&2
make -s -C "$wt" dist >&2
go run ./hack/krew-manifest -version "$version" -dist "$wt/dist" -o "$tmp/krew-manifest.yaml"

if $check; then
  if ! diff -u krew-manifest.yaml "$tmp/krew-manifest.yaml" >&2; then
    echo "error: krew-manifest.yaml does not match the release archives of $version: run make krew-manifest and commit it" >&2
    exit 1
  fi
  echo "krew-manifest.yaml matches the release archives of $version" >&2
else
  cp "$tmp/krew-manifest.yaml" krew-manifest.yaml
  echo "wrote krew-manifest.yaml for $version" >&2
fi
