#!/usr/bin/env bash
# The test suite: set up, build, run every test (GPU tests skip visibly without a device).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${LLA_BUILD_DIR:-$root/build}
"$root/tools/scripts/build.sh"
cd "$build"
ctest --output-on-failure -j "$(nproc)" "$@"
