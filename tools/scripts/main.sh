#!/usr/bin/env bash
# The main job: set up, build, then JIT-compile, tune where a GPU exists, run and verify
# (`lla run`), and check the bundled golden cases against the reference (`lla check`).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${LLA_BUILD_DIR:-$root/build}
"$root/tools/scripts/build.sh"
"$build/tools/lla" run "$@"
"$build/tools/lla" check "$root"/tests/data/cases/*.json
