#!/usr/bin/env bash
# On a GPU machine, over a build made on another machine of the same architecture
# (LLA_BUILD_DIR, default build/; a copy without its *.o and *.a files is enough): the whole
# test suite with its GPU tests, compute-sanitizer memcheck and racecheck, the golden cases
# through the kernel, `lla run` cold and then cached in a fresh process, and both benchmarks.
# Full logs go to $OUT (default gpu-logs/); a summary is printed last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${LLA_BUILD_DIR:-$root/build}
out=${OUT:-$root/gpu-logs}
mkdir -p "$out"

# CMake and the tests carry the absolute source and build paths of the machine that built them.
link_to() {  # link_to BUILT_PATH HERE: make BUILT_PATH lead HERE when it does not exist
  if [ "$1" != "$2" ] && [ ! -e "$1" ]; then mkdir -p "$(dirname "$1")" && ln -s "$2" "$1"; fi
}
link_to "$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")" "$root"
link_to "$(sed -n 's/^CMAKE_CACHEFILE_DIR:INTERNAL=//p' "$build/CMakeCache.txt")" "$build"
export PATH=$PATH:/usr/local/cuda/bin
export LLA_CACHE_DIR=${LLA_CACHE_DIR:-/tmp/lla-gpu-check-cache}
rm -rf "$LLA_CACHE_DIR"

{ nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem --format=csv
  nvcc --version | tail -1; } >"$out/device.txt" 2>&1

status=0
step() {  # step NAME COMMAND...: runs COMMAND with its output in $out/NAME.log
  local name=$1; shift
  local start=$SECONDS
  if "$@" >"$out/$name.log" 2>&1; then echo "ok    $name ($((SECONDS - start)) s)";
  else echo "FAIL  $name ($((SECONDS - start)) s): see $name.log"; status=1; fi
}

step gpu-tests "$build/tests/mamba2_forward_gpu_test"
# filecheck and install need the build machine's tools (FileCheck, a compiler, CMake).
step ctest bash -c "cd '$build' && ctest -LE 'filecheck|install' --output-on-failure -j 4"
sanitize() {
  compute-sanitizer --tool "$1" --error-exitcode 1 \
    "$build/tests/mamba2_forward_gpu_test" --gtest_filter='*SanitizerShapes*' &&
    compute-sanitizer --tool "$1" --error-exitcode 1 \
      "$build/tests/mamba2_prefill_gpu_test" --gtest_filter='*SanitizerShapes*'
}
step memcheck sanitize memcheck
step racecheck sanitize racecheck
sanitize_run() {  # the same kernels through `lla run`, outside GoogleTest
  LLA_LOG=debug compute-sanitizer --tool "$1" --error-exitcode 1 "$build/tools/lla" run \
    --batch 1 --seq-len 300 --heads 2 --groups 1 --dk 64 --dv 32 --warmup 0 --repetitions 1
}
step memcheck-run sanitize_run memcheck
step racecheck-run sanitize_run racecheck
step check-cuda "$build/tools/lla" check --backend cuda "$root"/tests/data/cases/*.json
step run-cold "$build/tools/lla" run
step run-cached "$build/tools/lla" run
step bench "$build/tools/lla" bench
step bench-decode "$build/tools/lla" bench --decode

echo "--- device"; cat "$out/device.txt"
echo "--- ctest"; tail -n 25 "$out/ctest.log"
for f in memcheck racecheck memcheck-run racecheck-run; do
  echo "--- $f"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|PASSED|FAILED|check  " "$out/$f.log"
done
echo "--- check-cuda"; cat "$out/check-cuda.log"
for f in run-cold run-cached bench bench-decode; do echo "--- $f"; cat "$out/$f.log"; done
exit $status
