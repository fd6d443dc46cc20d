#!/usr/bin/env bash
# staticcheck at the version pinned in tools/go.mod (its own module, so the
# plugin's go.mod stays free of it), with the checks in staticcheck.conf.
#   hack/lint.sh [plugin|twin|all]   (default all; hack/test.sh runs plugin)
# Cold (empty Go and staticcheck caches) on 2 cores: building staticcheck
# ~70 s CPU, the plugin module ~95 s CPU, test/twin ~165 s CPU; warm, a few
# seconds each.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
case $what in plugin | twin | all) ;; *)
	echo "usage: hack/lint.sh [plugin|twin|all]" >&2
	exit 2
	;;
esac
# go tool builds the pinned staticcheck once into the Go build cache; -n
# prints where, so it can run from the module it checks.
sc=$(go -C tools tool -n staticcheck)
[ -x "$sc" ] || { echo "lint: go tool did not build staticcheck ($sc)" >&2; exit 1; }
if [ "$what" != twin ]; then
	echo "staticcheck $("$sc" -version | cut -d' ' -f2-): plugin module"
	"$sc" ./...
fi
if [ "$what" != plugin ]; then
	echo "staticcheck: test/twin module"
	(cd test/twin && "$sc" ./...)
fi
