#!/usr/bin/env bash
# expect_failure.sh REGEX COMMAND...: passes when COMMAND exits non-zero, prints exactly
# one line containing "error" and that line matches REGEX (bad input must give one clear
# line and a non-zero exit, never a hang: CTest's timeout catches hangs).
set -u
regex=$1
shift
out=$("$@" 2>&1)
rc=$?
errors=$(printf '%s\n' "$out" | grep -c 'error' || true)
if [ "$rc" -eq 0 ]; then
  printf 'expected a non-zero exit, got 0; output:\n%s\n' "$out"
  exit 1
fi
if [ "$errors" -ne 1 ]; then
  printf 'expected exactly one error line, got %s; output:\n%s\n' "$errors" "$out"
  exit 1
fi
if ! printf '%s\n' "$out" | grep 'error' | grep -Eq -- "$regex"; then
  printf 'error line does not match /%s/; output:\n%s\n' "$regex" "$out"
  exit 1
fi
echo "ok (exit $rc): $(printf '%s\n' "$out" | grep 'error')"
