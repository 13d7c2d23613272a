#!/usr/bin/env bash
# Installs a build of lla into SCRATCH/prefix and links PROGRAM.c against the installed tree
# the four usual ways, running each program: the CMake package's lla::lla and lla::lla_static
# (consumer/CMakeLists.txt), and pkg-config's shared and --static flags. Prints one line per
# step; exits nonzero at the first failure, with that step's output.
# Usage: link_installed.sh BUILD SCRATCH PROGRAM.c VERSION LIBDIR CC CMAKE PKG_CONFIG
set -euo pipefail
build=$1 scratch=$2 program=$3 version=$4 libdir=$5 cc=$6 cmake=$7 pkg_config=$8
here=$(cd "$(dirname "$0")" && pwd)
prefix=$scratch/prefix
rm -rf "$scratch"
mkdir -p "$scratch"
export LLA_CACHE_DIR=$scratch/cache  # where a GPU is, the programs create a context

step() {  # step NAME COMMAND...: runs COMMAND, its output in SCRATCH/NAME.log
  local name=$1
  shift
  if "$@" >"$scratch/$name.log" 2>&1; then
    echo "ok    $name"
  else
    echo "FAIL  $name: $*"
    cat "$scratch/$name.log"
    exit 1
  fi
}
needs() {  # needs ELF LIBRARY yes|no: whether ELF has LIBRARY among its DT_NEEDED entries
  if readelf -d "$1" | grep -q "NEEDED.*\[$2"; then [ "$3" = yes ]; else [ "$3" = no ]; fi
}

step install "$cmake" --install "$build" --prefix "$prefix"
for file in include/lla/lla.h "$libdir/liblla.so" "$libdir/liblla.so.${version%.*}" \
  "$libdir/liblla.a" "$libdir/cmake/lla/llaConfig.cmake" "$libdir/pkgconfig/lla.pc" bin/lla; do
  step "installed-${file//\//_}" test -e "$prefix/$file"
done
step exports-only-the-c-api bash -c "! nm -D --defined-only '$prefix/$libdir/liblla.so' | awk '{print \$3}' | grep -v '^lla_' | grep ."
step lla-version bash -c "'$prefix/bin/lla' --version | grep -F 'lla $version'"

step cmake-configure "$cmake" -S "$here/consumer" -B "$scratch/consumer" \
  -DCMAKE_PREFIX_PATH="$prefix" -DLLA_PROGRAM="$program" -DLLA_VERSION="$version"
step cmake-build "$cmake" --build "$scratch/consumer"
step cmake-shared-runs "$scratch/consumer/consumer_shared"
step cmake-shared-links-liblla.so needs "$scratch/consumer/consumer_shared" "liblla.so.${version%.*}" yes
step cmake-static-runs "$scratch/consumer/consumer_static"
step cmake-static-has-no-liblla.so needs "$scratch/consumer/consumer_static" liblla.so no

export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
step pkg-config-version test "$("$pkg_config" --modversion lla)" = "$version"
cflags=$("$pkg_config" --cflags lla)
pc_libdir=$("$pkg_config" --variable=libdir lla)
warnings=(-std=c99 -pedantic -Wall -Wextra -Werror)
# shellcheck disable=SC2046 # the flags are words
step pkg-config-shared-build "$cc" "${warnings[@]}" $cflags "$program" -o "$scratch/pc_shared" \
  $("$pkg_config" --libs lla) -ldl -Wl,-rpath,"$pc_libdir"
step pkg-config-shared-runs "$scratch/pc_shared"
# --static: every library liblla.a needs; -l:liblla.a picks the archive over liblla.so.
static_libs=$("$pkg_config" --static --libs lla)
# shellcheck disable=SC2086 # the flags are words
step pkg-config-static-build "$cc" "${warnings[@]}" $cflags "$program" -o "$scratch/pc_static" \
  ${static_libs/-llla/-l:liblla.a}
step pkg-config-static-runs "$scratch/pc_static"
step pkg-config-static-has-no-liblla.so needs "$scratch/pc_static" liblla.so no
