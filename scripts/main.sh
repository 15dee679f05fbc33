#!/usr/bin/env bash
# The main job: set up, build, and run the default experiment on this machine with two
# ranks. Extra arguments go to the experiment.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
source scripts/env.sh
exec mpirun -np 2 --oversubscribe build/bin/ody-bench "$@"
