#!/usr/bin/env bash
# The GPU check (docs/gpu.md), for a GPU machine lent for a few minutes that has nvcc,
# CMake, Ninja and a Python with PyTorch but none of the main build's libraries:
#   1. configures and builds gpu/ (the CUDA attention kernels alone) into build-gpu/;
#   2. runs its check: the cases of the CUDA gtest against the fp64 CPU reference;
#   3. times forward and backward, bf16, batch 1, 2048/Dh heads, at L = 4K, 8K, 16K, 32K,
#      Dh 64 and 128, causal and not, for PyTorch's flash SDPA (gpu/sdpa_bench.py), then
#      for our kernels (gpu/attention_cuda_bench, one process per configuration);
#   4. writes both as JSON lines, a table with ours/torch and a summary to OUTDIR.
# Every step runs under `timeout`, and the whole run within ODY_GPU_BUDGET_S (480 s):
# a step that would not fit is skipped and said so; a configuration of ours that times
# out skips the longer L of its (Dh, causal).
#
# usage: scripts/gpu-check.sh [--build-only] [--quick] [OUTDIR]
#   OUTDIR        default ${OUT:-gpu-check-out}
#   --build-only  steps 1 and 2 only; "no CUDA device: ..." from the check (exit 2)
#                 counts as success: this is how a machine without a GPU tries the build
#   --quick       L = 4K and 8K only
# Environment: ODY_GPU_BUDGET_S (480), ODY_GPU_JOBS (nproc), ODY_CUDA_ARCHS (default: the
# GPU's compute capability from nvidia-smi, else gpu/CMakeLists.txt's "80;90"),
# ODY_GPU_BUILD_DIR (build-gpu), ODY_GPU_LENS ("4096 8192 16384 32768"), PYTHON (python3).
# Exit: 0 every step passed; 1 a step failed (the last line names it); 2 no CUDA device.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

build_only=0
quick=0
outdir=""
for arg in "$@"; do
  case "$arg" in
    --build-only) build_only=1 ;;
    --quick) quick=1 ;;
    -h | --help)
      sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "gpu-check: unknown option $arg (see --help)" >&2
      exit 1
      ;;
    *) outdir=$arg ;;
  esac
done
outdir=${outdir:-${OUT:-gpu-check-out}}
if ! mkdir -p "$outdir" || ! outdir=$(cd "$outdir" && pwd); then
  echo "gpu-check: cannot create the output folder $outdir" >&2
  exit 1
fi

budget=${ODY_GPU_BUDGET_S:-480}
start=$SECONDS
summary="$outdir/summary.txt"
: >"$summary"
failed=()

say() { echo "gpu-check: $*" | tee -a "$summary"; }
left() { echo $((budget - (SECONDS - start))); }
finish() {  # finish CODE: the last line names what failed
  if ((${#failed[@]})); then
    say "FAILED: ${failed[*]} ($((SECONDS - start)) s; logs in $outdir)"
    exit "${1:-1}"
  fi
  say "all steps passed ($((SECONDS - start)) s; results in $outdir)"
  exit 0
}
die() {  # die CODE MESSAGE
  local code=$1
  shift
  failed+=("$*")
  finish "$code"
}

# run_step NAME MAX_S LOG CMD...: CMD under timeout (MAX_S, capped by the budget left
# less 5 s), its stdout and stderr to LOG. Returns CMD's status, 124 when it timed out,
# 125 when there was no time left to start it.
run_step() {
  local name=$1 max=$2 log=$3
  shift 3
  local t
  t=$(($(left) - 5))
  ((t > max)) && t=$max
  if ((t < 5)); then
    say "$name: skipped, the ${budget} s budget is spent"
    return 125
  fi
  local rc=0
  timeout -k 10 "$t" "$@" >"$log" 2>&1 || rc=$?
  if ((rc == 124 || rc == 137)); then
    say "$name: timed out after $t s"
    return 124
  fi
  return "$rc"
}

# ---- tools -------------------------------------------------------------------------
command -v timeout >/dev/null 2>&1 || die 1 "timeout (coreutils) not found"
if ! command -v nvcc >/dev/null 2>&1 && [ -z "${CUDACXX:-}" ] && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
if [ -z "${CUDACXX:-}" ] && ! command -v nvcc >/dev/null 2>&1; then
  die 1 "nvcc not found (put the CUDA toolkit's bin/ on PATH or set CUDACXX)"
fi
command -v cmake >/dev/null 2>&1 || die 1 "cmake not found (CMake 3.18 or newer is needed)"
command -v ninja >/dev/null 2>&1 || die 1 "ninja not found (the build uses -G Ninja)"

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -a)"
  echo "git: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
  echo "--- nvcc"
  timeout 20 "${CUDACXX:-nvcc}" --version 2>&1 | tail -2
  echo "--- cmake / ninja"
  timeout 20 cmake --version 2>&1 | head -1
  timeout 20 ninja --version 2>&1
  echo "--- nvidia-smi"
  timeout 20 nvidia-smi 2>&1 || echo "(no nvidia-smi)"
} >"$outdir/env.txt" 2>&1

# ---- 1. configure and build --------------------------------------------------------
bdir=${ODY_GPU_BUILD_DIR:-build-gpu}
archs=${ODY_CUDA_ARCHS:-}
if [ -z "$archs" ] && command -v nvidia-smi >/dev/null 2>&1; then
  cap=$(timeout 20 nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null |
    head -1 | tr -d ' .')
  [[ $cap =~ ^[0-9]+$ ]] && archs=$cap
fi
# A build folder configured from another checkout or with another generator: start anew.
if [ -f "$bdir/CMakeCache.txt" ] &&
  ! { grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$PWD/gpu" "$bdir/CMakeCache.txt" &&
    grep -qx "CMAKE_GENERATOR:INTERNAL=Ninja" "$bdir/CMakeCache.txt"; }; then
  rm -rf "$bdir"
fi
say "configure: cmake -S gpu -B $bdir -G Ninja${archs:+ -DCMAKE_CUDA_ARCHITECTURES=$archs}"
run_step configure 120 "$outdir/configure.log" cmake -S gpu -B "$bdir" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release ${archs:+"-DCMAKE_CUDA_ARCHITECTURES=$archs"}
rc=$?
if ((rc != 0)); then
  tail -n 25 "$outdir/configure.log"
  die 1 "configure (exit $rc, $outdir/configure.log)"
fi
jobs=${ODY_GPU_JOBS:-$(nproc 2>/dev/null || echo 4)}
t=$SECONDS
run_step build 300 "$outdir/build.log" cmake --build "$bdir" -j "$jobs"
rc=$?
if ((rc != 0)); then
  grep -E -m 20 'error|Error' "$outdir/build.log"
  tail -n 15 "$outdir/build.log"
  die 1 "build (exit $rc, $outdir/build.log)"
fi
say "build: ok in $((SECONDS - t)) s (-j $jobs)"

# ---- 2. the check ------------------------------------------------------------------
check="$bdir/attention_cuda_check"
bench="$bdir/attention_cuda_bench"
run_step check 180 "$outdir/check.log" "$check"
rc=$?
last=$(tail -n 1 "$outdir/check.log" 2>/dev/null)
if ((rc == 2)); then
  if ((build_only)); then
    say "check: $last (exit 2, as expected without a GPU)"
    run_step bench-probe 30 "$outdir/bench-probe.log" "$bench" --probe
    rc=$?
    if ((rc == 2)); then
      say "bench --probe: $(tail -n 1 "$outdir/bench-probe.log") (exit 2, as expected)"
    else
      failed+=("bench --probe (exit $rc, expected 2 without a GPU)")
    fi
    finish 1
  fi
  die 2 "check: $last"
fi
grep ": FAIL " "$outdir/check.log" | cut -c 1-400
if ((rc == 0)); then
  say "check: $last"
elif ((rc == 124)); then  # the name of the running case is the log's last (cut) line
  failed+=("check (timed out in ${last%: }; $outdir/check.log)")
  say "check: TIMED OUT in case ${last%: }"
else
  failed+=("check (exit $rc: $last; $outdir/check.log)")
  say "check: FAILED, exit $rc: $last"
fi
if ((build_only)); then finish 1; fi

# ---- 3. benchmarks -----------------------------------------------------------------
lens=${ODY_GPU_LENS:-4096 8192 16384 32768}
((quick)) && lens="4096 8192"
dims="64 128"
target_ms=300  # per direction and configuration; slower calls are timed once

py=${PYTHON:-python3}
torch_json="$outdir/torch.jsonl"
ours_json="$outdir/ours.jsonl"
: >"$torch_json"
: >"$ours_json"
if ! command -v "$py" >/dev/null 2>&1; then
  failed+=("torch ($py not found)")
  say "torch: skipped, $py not found"
else
  t=$SECONDS
  run_step torch 150 "$outdir/torch.log" "$py" gpu/sdpa_bench.py --L "${lens// /,}" \
    --dh "${dims// /,}" --causal 0,1 --dtype bf16 --target-ms "$target_ms"
  rc=$?
  grep '^{"impl"' "$outdir/torch.log" >"$torch_json"
  if ((rc != 0)); then
    failed+=("torch (exit $rc; $outdir/torch.log)")
    say "torch: FAILED, exit $rc: $(grep -v '^{' "$outdir/torch.log" | tail -n 1 | cut -c 1-300)"
  else
    say "torch: $(wc -l <"$torch_json") configurations in $((SECONDS - t)) s"
  fi
fi

ours_log="$outdir/ours.log"
: >"$ours_log"
declare -A too_slow=()
t=$SECONDS
n_ok=0
n_skipped=0
for L in $lens; do
  for dh in $dims; do
    for c in 0 1; do
      heads=$((2048 / dh))
      causal=$([ "$c" = 1 ] && echo true || echo false)
      name="ours L=$L Dh=$dh causal=$causal"
      error=""
      if [ -n "${too_slow[$dh/$c]:-}" ]; then
        error="skipped: L=${too_slow[$dh/$c]} timed out"
      elif (($(left) < 20)); then
        error="skipped: the ${budget} s budget is spent"
        say "$name: $error"
      else
        run_step "$name" 120 "$outdir/.step.log" "$bench" --L "$L" --dh "$dh" --causal "$c" \
          --heads "$heads" --dtype bf16 --target-ms "$target_ms"
        rc=$?
        { echo "### $name: exit $rc"; cat "$outdir/.step.log"; } >>"$ours_log"
        line=$(grep -m 1 '^{"impl"' "$outdir/.step.log")
        if ((rc == 124)); then
          too_slow[$dh/$c]=$L
          error="timeout"
        elif [ -n "$line" ]; then
          echo "$line" >>"$ours_json"
          if ((rc == 0)); then
            n_ok=$((n_ok + 1))
          else
            failed+=("$name")
          fi
        else
          error="exit $rc: $(tail -n 1 "$outdir/.step.log" | sed 's/["\\]//g' | cut -c 1-300)"
        fi
      fi
      if [ -n "$error" ]; then
        if [[ $error == skipped* ]]; then
          n_skipped=$((n_skipped + 1))
        else
          failed+=("$name ($error)")
        fi
        printf '{"impl":"ody","L":%d,"Dh":%d,"heads":%d,"batch":1,"causal":%s,"dtype":"bf16","error":"%s"}\n' \
          "$L" "$dh" "$heads" "$causal" "$error" >>"$ours_json"
      fi
    done
  done
done
rm -f "$outdir/.step.log"
say "ours: $n_ok configurations in $((SECONDS - t)) s, $n_skipped skipped"

# ---- 4. table ----------------------------------------------------------------------
if command -v "$py" >/dev/null 2>&1 &&
  timeout 30 "$py" gpu/bench_table.py "$ours_json" "$torch_json" >"$outdir/table.txt" 2>&1; then
  cat "$outdir/table.txt"
else
  failed+=("table ($outdir/table.txt)")
fi
grep -q '"finite": *false' "$ours_json" "$torch_json" && failed+=("NaN or inf in a benchmark result")
finish 1
