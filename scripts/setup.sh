#!/usr/bin/env bash
# Installs the Debian 12 packages Odysseus needs. Idempotent: installs only what is
# missing, so the README's commands and CI can call it every time.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config git clang-format
  libopenmpi-dev openmpi-bin
  libucx-dev ucx-utils
  libhwloc-dev hwloc
  libtrilinos-kokkos-dev
  libgtest-dev libbenchmark-dev
  libopenblas-dev
  nlohmann-json3-dev libcli11-dev pybind11-dev libxml2-dev
  python3-numpy python3-matplotlib
  iproute2  # scripts/two-hosts.sh: ip and tc
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
