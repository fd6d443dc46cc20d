#!/usr/bin/env bash
# CI step of the distribution (issue 8), with the real krew and kubectl:
#   1. build krew and validate-krew-manifest (hack/tools, cached by content);
#   2. make dist (HEAD: linux/amd64 only unless INFER_HPA_DIST_ALL=1);
#   3. reproducibility: re-archive the same binaries with other mtimes, modes
#      and umask (and, with INFER_HPA_REPRO_COLD=1, compile linux/amd64 again
#      from a copy of the tree at another path with an empty build cache);
#      every byte must match;
#   4. the committed krew-manifest.yaml matches the generator's output for the
#      release archives of VERSION (hack/krew-manifest.sh --check);
#   5. offline, in a network namespace with loopback only where possible:
#      validate-krew-manifest installs every platform of the release from a
#      loopback server;
#      `kubectl krew install --manifest --archive` into a throw-away KREW_ROOT;
#      kubectl runs the plugin, lists it without warnings, completes its
#      arguments through kubectl_complete-infer_hpa; `krew uninstall` removes it.
# Cold (empty Go caches) the cross-compiles dominate; see docs/RELEASE.md.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = offline ]; then
  # Phase 5; the variables come from the main phase below.
  : "${TOOLS:?}" "${WORK:?}" "${RELEASE_DIST:?}" "${HEAD_DIST:?}" "${VERSION_TAG:?}" "${RELEASE_COMMIT:?}"
  export KREW_NO_UPGRADE_CHECK=1 TMPDIR="$WORK/tmp" KREW_ROOT="$WORK/krew"
  mkdir -p "$TMPDIR"
  # Only the directories the test needs: kubectl warns about missing PATH entries.
  PATH="$KREW_ROOT/bin:$TOOLS:$(dirname "$(command -v kubectl)"):$(dirname "$(command -v git)"):/usr/bin:/bin"
  export PATH
  fail() { echo "FAIL: $*" >&2; exit 1; }

  echo "== krew: validate-krew-manifest (every platform of the release, downloaded from loopback)"
  servedir -dir "$RELEASE_DIST" -addr-file "$WORK/addr" 2>/dev/null &
  srv=$!
  trap 'kill $srv 2>/dev/null || true' EXIT
  for _ in $(seq 50); do [ -s "$WORK/addr" ] && break; sleep 0.1; done
  mkdir -p "$WORK/validate"
  "$WORK/krew-manifest" -version "$VERSION_TAG" -dist "$RELEASE_DIST" -base-url "http://$(cat "$WORK/addr")" \
    -o "$WORK/validate/infer-hpa.yaml"
  validate-krew-manifest -manifest "$WORK/validate/infer-hpa.yaml" >"$WORK/validate.log" 2>&1 ||
    { cat "$WORK/validate.log" >&2; fail "validate-krew-manifest rejected the manifest"; }
  grep -E 'all [0-9]+ spec.platforms installed fine' "$WORK/validate.log"

  goarch=$(go env GOARCH 2>/dev/null || echo amd64)
  archive="$RELEASE_DIST/kubectl-infer_hpa_${VERSION_TAG}_linux_${goarch}.tar.gz"
  echo "== krew: kubectl krew install --manifest=krew-manifest.yaml --archive=$(basename "$archive")"
  kubectl krew install --manifest=krew-manifest.yaml --archive="$archive" </dev/null
  [ -x "$KREW_ROOT/bin/kubectl-infer_hpa" ] || fail "krew did not link kubectl-infer_hpa into $KREW_ROOT/bin"

  echo "== krew: kubectl infer-hpa version"
  out=$(kubectl infer-hpa version)
  echo "$out"
  [[ "$out" == *"$VERSION_TAG (commit ${RELEASE_COMMIT:0:12}"* ]] || fail "version output does not name $VERSION_TAG at ${RELEASE_COMMIT:0:12}"
  # Whole outputs are captured before matching: with pipefail, `| grep -q`
  # can fail when grep exits first and the writer gets SIGPIPE.
  help=$(kubectl infer-hpa --help)
  [[ "$help" == *"kubectl infer-hpa"* ]] || fail "--help does not say kubectl infer-hpa"

  echo "== krew: kubectl plugin list"
  kubectl plugin list >"$WORK/plugins.out" 2>"$WORK/plugins.err" || { cat "$WORK/plugins.err" >&2; fail "kubectl plugin list failed"; }
  cat "$WORK/plugins.out"
  grep -qx "$KREW_ROOT/bin/kubectl-infer_hpa" "$WORK/plugins.out" || fail "kubectl plugin list does not show the plugin"
  if grep -qi warning "$WORK/plugins.err"; then cat "$WORK/plugins.err" >&2; fail "kubectl plugin list warned"; fi
  echo "== krew: a local git index (krew list and uninstall refuse to run without an index; no network)"
  git init -q "$WORK/index" && mkdir -p "$WORK/index/plugins" && cp krew-manifest.yaml "$WORK/index/plugins/infer-hpa.yaml"
  git -C "$WORK/index" add -A && git -C "$WORK/index" -c user.name=ci -c user.email=ci@localhost commit -qm index
  KREW_DEFAULT_INDEX_URI="$WORK/index" kubectl krew update
  kubectl krew list | tee "$WORK/krew-list.out"
  # Installed from --manifest, krew files the plugin under the "detached" index.
  grep -qE '(^|/)infer-hpa$' "$WORK/krew-list.out" || fail "kubectl krew list does not show infer-hpa"

  echo "== krew: completion through kubectl, set up as the caveats say"
  (cd "$KREW_ROOT" && cp store/infer-hpa/v*/kubectl_complete-infer_hpa bin/)
  kubectl __complete infer-hpa "" >"$WORK/complete.out" 2>/dev/null
  grep -q '^version' "$WORK/complete.out" && grep -q '^completion' "$WORK/complete.out" ||
    { cat "$WORK/complete.out" >&2; fail "kubectl does not complete the plugin's verbs"; }
  shells=$(kubectl __complete infer-hpa completion "" 2>/dev/null)
  grep -q '^zsh' <<<"$shells" || fail "kubectl does not complete completion's shells"

  echo "== krew: kubectl krew uninstall infer-hpa"
  kubectl krew uninstall infer-hpa
  [ ! -e "$KREW_ROOT/bin/kubectl-infer_hpa" ] && [ ! -e "$KREW_ROOT/store/infer-hpa" ] || fail "uninstall left the plugin behind"
  rm -f "$KREW_ROOT/bin/kubectl_complete-infer_hpa" # ours, as the caveats put it there
  listed=$(kubectl plugin list 2>/dev/null || true)
  ! grep -q infer_hpa <<<"$listed" || fail "kubectl still lists the plugin after uninstall"
  exit 0
fi

t0=$SECONDS
step() { echo "== krew: $* (+$((SECONDS - t0))s)"; }
WORK=$(mktemp -d)
release_wt="$WORK/release"
cleanup() {
  git worktree remove --force "$release_wt" >/dev/null 2>&1 || true
  chmod -R u+w "$WORK" 2>/dev/null || true # go's module cache in the cold build is read-only
  rm -rf "$WORK"
}
trap cleanup EXIT

# Pin what make dist injects, so a commit made while this runs changes nothing.
pin=(DIST_COMMIT="$(git rev-parse --short=12 HEAD)" DATE="$(git log -1 --format=%cI)")

step "tools"
TOOLS=$(hack/tools/tools.sh)
go build -o "$WORK/krew-manifest" ./hack/krew-manifest

# HEAD is built for linux/amd64 only unless INFER_HPA_DIST_ALL=1: the other
# five platforms are cross-compiled for the release tree below (the krew
# manifest check), and validate-krew-manifest installs those.
head_platforms=(DIST_FLAGS=-platforms=linux/amd64)
[ "${INFER_HPA_DIST_ALL:-0}" = 1 ] && head_platforms=()
step "make dist (${head_platforms[*]:-every platform})"
s=$SECONDS
make -s dist "${pin[@]}" "${head_platforms[@]}"
echo "make dist took $((SECONDS - s))s"
cat dist/checksums.txt

step "reproducible: the same binaries archived again (other mtimes, modes, umask)"
mkdir -p "$WORK/re/bin" && cp -r dist/bin/. "$WORK/re/bin/"
find "$WORK/re/bin" -type f -exec touch -d '2001-02-03 04:05:06' {} + -exec chmod 700 {} +
(umask 077 && make -s dist "${pin[@]}" DIST_DIR="$WORK/re" DIST_FLAGS="-skip-build ${head_platforms[*]#DIST_FLAGS=}" >/dev/null)
# (HEAD may be linux/amd64 only: no .zip then)
for f in dist/*.tar.gz dist/*.zip dist/checksums.txt; do [ -e "$f" ] || continue; cmp "$f" "$WORK/re/$(basename "$f")"; done
echo "archives identical"

if [ "${INFER_HPA_REPRO_COLD:-0}" = 1 ]; then
  step "reproducible: linux/amd64 compiled again from a copy of the tree at another path, empty build cache"
  mkdir -p "$WORK/copy/tree"
  git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$WORK/copy/tree"
  s=$SECONDS
  GOCACHE="$WORK/copy/gocache" make -s -C "$WORK/copy/tree" dist "${pin[@]}" DIST_FLAGS=-platforms=linux/amd64 >/dev/null
  echo "cold linux/amd64 build took $((SECONDS - s))s"
  cmp dist/bin/linux_amd64/kubectl-infer_hpa "$WORK/copy/tree/dist/bin/linux_amd64/kubectl-infer_hpa"
  a="kubectl-infer_hpa_$(cat VERSION)_linux_amd64.tar.gz"
  cmp "dist/$a" "$WORK/copy/tree/dist/$a"
  echo "binary and archive identical"
else
  echo "(skipped the empty-cache rebuild of linux/amd64, ~7 min: run with INFER_HPA_REPRO_COLD=1)"
fi

step "committed krew-manifest.yaml matches the release archives"
hack/krew-manifest.sh --check --keep "$release_wt"

step "offline: validate, install, use, uninstall"
export TOOLS WORK RELEASE_DIST="$release_wt/dist" HEAD_DIST="$PWD/dist" VERSION_TAG="$(cat VERSION)"
RELEASE_COMMIT=$(git log -1 --format=%H -- VERSION)
export RELEASE_COMMIT
if unshare -n true 2>/dev/null && command -v ip >/dev/null; then
  echo "(in a new network namespace: loopback only)"
  unshare -n bash -c 'ip link set lo up && exec "$0" offline' "$0"
else
  echo "(no network namespace available: krew runs with KREW_NO_UPGRADE_CHECK=1 and --manifest, which skip the index)"
  "$0" offline
fi
step "done"
