#!/usr/bin/env bash
# On a GPU machine, over a build made elsewhere (LLA_BUILD_DIR, default build/): profiles the
# forward kernels of one shape with Nsight Compute, per SASS instruction (executed counts and
# stall samples) under the heuristic's choice (LLA_TUNE=off unless set), and dumps the SASS of
# a spec (`lla inspect` options, e.g. "--algorithm scan --levels 15"; the module the heuristic
# picked is named in NAME-bench.log). Usage: profile.sh T:B[:H[:G[:K[:V]]]] KERNEL_NAME
# [INSPECT_OPTIONS]. Output under $OUT (default profile-logs/): NAME.ncu-rep,
# NAME-details.txt, NAME-source.csv, NAME.sass.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${LLA_BUILD_DIR:-$root/build}
out=${OUT:-$root/profile-logs}
usage="usage: profile.sh T:B[:H[:G[:K[:V]]]] KERNEL_NAME [INSPECT_OPTIONS]"
shape=${1:?$usage}
kernel=${2:?$usage}
inspect=${3:-}
name=$(echo "$shape" | tr ':' 'x')
mkdir -p "$out"
export PATH=$PATH:/usr/local/cuda/bin
export LLA_TUNE=${LLA_TUNE:-off}
export LLA_CACHE_DIR=${LLA_CACHE_DIR:-/tmp/lla-profile-cache}

ncu --clock-control none --kernel-name "$kernel" --launch-skip 2 --launch-count 1 \
  --section SpeedOfLight --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis \
  --section LaunchStats --section Occupancy --section SchedulerStats --section WarpStateStats \
  --section InstructionStats --section SourceCounters --import-source no -f -o "$out/$name" \
  "$build/tools/lla" bench --shape "$shape" --warmup 1 --repetitions 1 >"$out/$name-bench.log" 2>&1
ncu --import "$out/$name.ncu-rep" --page details >"$out/$name-details.txt" 2>&1
ncu --import "$out/$name.ncu-rep" --page source --print-source sass --csv >"$out/$name-source.csv" 2>&1
if [ -n "$inspect" ]; then
  # shellcheck disable=SC2086 # the options are words
  "$build/tools/lla" inspect $inspect --emit resources,sass >"$out/$name.sass" 2>&1
fi
grep -E "Duration|Issue Slots Busy|Executed Ipc|No Eligible|Registers Per|Achieved Occupancy|Stall" \
  "$out/$name-details.txt" | head -40
