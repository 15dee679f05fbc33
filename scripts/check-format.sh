#!/usr/bin/env bash
# Fails (exit 1, listing the files) when a tracked C/C++/CUDA source is not formatted by
# the checked-in .clang-format. Run by the README's test command (CTest test `format`).
# Fix with: clang-format -i $(bash scripts/check-format.sh --list)
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.cpp' '*.hpp' '*.h' '*.c' '*.cu' '*.cuh' | grep -v '^tests/topology/data/' || true)
if [ "${1:-}" = "--list" ]; then echo "$files"; exit 0; fi
command -v clang-format >/dev/null || { echo "check-format: clang-format not found (scripts/setup.sh installs it)"; exit 1; }
bad=()
for f in $files; do
  [ -f "$f" ] || continue
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "check-format: ${#bad[@]} file(s) not formatted with .clang-format ($(clang-format --version)):"
  printf '  %s\n' "${bad[@]}"
  echo "fix: clang-format -i ${bad[*]}"
  exit 1
fi
echo "check-format: $(echo "$files" | wc -l) files formatted"
