#!/usr/bin/env bash
# Configures and builds the release preset into build/ (incremental when it exists).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$ODY_JOBS"
