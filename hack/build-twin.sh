#!/usr/bin/env bash
# Builds the local GKE twin's binaries (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok and twin) from the test/twin
# module with one `go build`, plus gcpfake (the local Google API server) from
# the plugin's module, and prints the folder that holds them.
#
# The heavy binaries are cached outside the clone, keyed by a hash of what
# they are built from (go.mod, go.sum, cmd/etcd, this script, Go version), in
# ${INFER_HPA_TWIN_CACHE:-$HOME/.cache/infer-hpa-twin}/<hash>/. When the hash
# is known the heavy build is skipped; only the small twin binary is rebuilt
# (seconds). Everything ends up in test/twin/.bin (git-ignored), the folder
# printed on the last line of stdout.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mod="$root/test/twin"
cache="${INFER_HPA_TWIN_CACHE:-$HOME/.cache/infer-hpa-twin}"
out="$mod/.bin"
kube_version=v1.37.2
kwok_version=v0.8.0

cd "$mod"
heavy_hash=$( { cat go.mod go.sum "$root/hack/build-twin.sh"; find cmd/etcd -name '*.go' ! -name '*_test.go' | sort | xargs cat; go version; } | sha256sum | cut -c1-16)
heavy="$cache/$heavy_hash"

kube_ldflags="-X k8s.io/component-base/version.gitVersion=$kube_version \
-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 \
-X k8s.io/component-base/version.gitTreeState=clean \
-X k8s.io/component-base/version.buildDate=2026-01-01T00:00:00Z \
-X k8s.io/client-go/pkg/version.gitVersion=$kube_version \
-X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=37 \
-X sigs.k8s.io/kwok/pkg/consts.Version=${kwok_version#v} \
-X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${kube_version#v}"

heavy_pkgs=(./cmd/etcd k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
	k8s.io/kubernetes/cmd/kube-scheduler sigs.k8s.io/kwok/cmd/kwok)

mkdir -p "$out"
if [ -x "$heavy/kube-apiserver" ] && [ -x "$heavy/kwok" ]; then
	echo "twin: heavy binaries cached in $heavy" >&2
	CGO_ENABLED=0 go build -trimpath -o "$out/" ./cmd/twin
else
	echo "twin: building etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, twin (cold: ~8 min on 2 cores)" >&2
	start=$(date +%s)
	tmp="$cache/.tmp-$$"
	rm -rf "$tmp" && mkdir -p "$tmp"
	trap 'rm -rf "$tmp"' EXIT
	# One go build: the packages share one build graph and one build cache.
	CGO_ENABLED=0 nice go build -trimpath -ldflags "-s -w $kube_ldflags" -o "$tmp/" "${heavy_pkgs[@]}" ./cmd/twin
	mv "$tmp/twin" "$out/twin"
	rm -rf "$heavy" && mv "$tmp" "$heavy"
	trap - EXIT
	echo "twin: built in $(( $(date +%s) - start ))s" >&2
	# Keep only the newest few cached builds.
	ls -1dt "$cache"/*/ 2>/dev/null | tail -n +4 | xargs -r rm -rf
fi
# The local Google API server comes from the plugin's module (standard
# library only): small, built every time like twin.
(cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$out/" ./test/gcpfake/cmd/gcpfake)
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
	ln -sfn "$heavy/$b" "$out/$b"
done
echo "$out"
