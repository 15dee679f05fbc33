#!/usr/bin/env bash
# Set up, build, run every test, then install the package and build the downstream
# example against it (proves find_package(odysseus) works).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
source scripts/env.sh
ctest --preset release -j "$ODY_JOBS"

prefix=$PWD/build/_install
cmake --install build --prefix "$prefix" >/dev/null
cmake -S examples/downstream -B build/_downstream -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build build/_downstream
mpirun -np 2 --oversubscribe build/_downstream/ody-downstream-example
echo "test.sh: all tests passed and the downstream example built and ran"
