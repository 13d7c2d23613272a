#!/usr/bin/env bash
# Installs what lla builds with, from Debian's packages, when it is missing. Idempotent.
# The CUDA Toolkit is not a Debian package here: without it, say so and stop.
set -euo pipefail

packages=(cmake g++ make libsqlite3-dev nlohmann-json3-dev googletest libgtest-dev libgmock-dev llvm-14-tools pkg-config
  llvm-16-dev libclang-cpp16-dev libclang-16-dev clang-16)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "lla: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cuda_home=${CUDA_HOME:-/usr/local/cuda}
if [ ! -f "$cuda_home/include/nvrtc.h" ] || [ ! -f "$cuda_home/include/cuda.h" ]; then
  echo "lla: the CUDA Toolkit (cuda.h, nvrtc.h, libnvrtc) was not found under $cuda_home." >&2
  echo "lla: install NVIDIA's CUDA Toolkit and set CUDA_HOME to its folder." >&2
  exit 1
fi
