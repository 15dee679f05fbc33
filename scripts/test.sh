#!/usr/bin/env bash
# Set up, build, run every test, then install the package and build the downstream
# example against it (proves find_package(odysseus) works).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
source scripts/env.sh
ctest --preset release -j "$ODY_JOBS"

# Two hosts on one machine (network namespaces joined by a shaped veth pair, docs/two-hosts.md).
# Exit status 2: this machine cannot make the namespaces (not root, no iproute2, namespaces not
# permitted); the script said why on one line, and the rest of the suite still counts.
two_hosts=0
bash scripts/two-hosts.sh --quick || two_hosts=$?
if [ "$two_hosts" -eq 2 ]; then
  echo "test.sh: two-hosts skipped: this machine cannot make network namespaces (reason above)"
elif [ "$two_hosts" -ne 0 ]; then
  exit "$two_hosts"
fi

# The GPU check's standalone build (gpu/, docs/gpu.md) stays buildable: configure, build and
# run its no-GPU probe wherever nvcc is present; a machine without nvcc skips it.
if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
  ODY_GPU_BUILD_DIR=build/gpu bash scripts/gpu-check.sh --build-only build/gpu-check-out
else
  echo "test.sh: no nvcc here: the GPU check's build (gpu/) skipped"
fi

prefix=$PWD/build/_install
cmake --install build --prefix "$prefix" >/dev/null
cmake -S examples/downstream -B build/_downstream -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build build/_downstream
mpirun -np 2 --oversubscribe build/_downstream/ody-downstream-example
echo "test.sh: all tests passed and the downstream example built and ran"
