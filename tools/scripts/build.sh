#!/usr/bin/env bash
# Configures and builds lla into build/ (or $LLA_BUILD_DIR). Idempotent.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${LLA_BUILD_DIR:-$root/build}
"$root/tools/scripts/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)"
