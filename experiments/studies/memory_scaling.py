#!/usr/bin/env python3
"""Peak memory per rank against sequence length, per strategy, and the longest sequence
that fits a memory budget by the measured slope.

Runs ody-bench once per (strategy, length), each in its own processes (so no strategy
reuses memory another freed), with one forward + backward and no check, and reads the
JSON records: peak_mem_bytes is the most any rank added (VmHWM after malloc_trim). The
single-rank block's peak comes from the first strategy's run at each length (--baseline),
up to --baseline-max (it is the slowest part). Peak memory is linear in L for every
strategy here (flash-style attention keeps no L x L matrix), so a least-squares line
through the points gives the slope (bytes per token) and the longest L under the budget.

    /usr/bin/python3 experiments/studies/memory_scaling.py --np 2 --lengths 4K,8K,16K,32K \\
        --budget-gib 24 --json out.jsonl
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def size(text):
    mult = {"K": 1024, "M": 1024 ** 2}.get(text[-1].upper(), 1)
    return int(text[:-1] if mult > 1 else text) * mult


def fit(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx > 0 else 0.0
    return slope, my - slope * mx


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", default=os.path.join(here, "..", "..", "build", "bin", "ody-bench"))
    ap.add_argument("--np", type=int, default=2)
    ap.add_argument("--lengths", default="4K,8K,16K,32K")
    ap.add_argument("--strategies", default="tpsp,ulysses,ring,odysseus,usp,odysseus-ring")
    ap.add_argument("--shape", default="--hidden 1024 --heads 8 --kv-heads 8 --ffn 2816 --causal",
                    help="ody-bench shape flags other than --seq-len")
    ap.add_argument("--baseline-max", default="32K", help="longest L at which the single-rank block runs")
    ap.add_argument("--budget-gib", type=float, default=24.0)
    ap.add_argument("--json", help="append every ody-bench record here")
    ap.add_argument("--mpirun", default="mpirun --oversubscribe")
    a = ap.parse_args()

    lengths = [size(x) for x in a.lengths.split(",")]
    names = a.strategies.split(",")
    peaks = {n: {} for n in names}
    single = {}
    for L in lengths:
        for k, name in enumerate(names):
            with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as f:
                out = f.name
            cmd = a.mpirun.split() + ["-np", str(a.np), a.bench, "--strategy", name, "--seq-len", str(L),
                                      "-n", "1", "-w", "0", "--no-check", "--json", out] + a.shape.split()
            if k == 0 and L <= size(a.baseline_max):
                cmd.append("--baseline")
            print("#", " ".join(cmd), file=sys.stderr, flush=True)
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if r.returncode != 0:
                print(r.stdout, file=sys.stderr)
                sys.exit(f"ody-bench failed for {name} at L={L}")
            records = [json.loads(line) for line in open(out)]
            os.unlink(out)
            if a.json:
                with open(a.json, "a") as j:
                    for rec in records:
                        j.write(json.dumps(rec) + "\n")
            for rec in records:
                if rec.get("type") == "result":
                    peaks[name][L] = rec["peak_mem_bytes"]
                    if rec.get("single_rank_peak_mem_bytes"):
                        single[L] = rec["single_rank_peak_mem_bytes"]

    budget = a.budget_gib * 2 ** 30
    print(f"# peak memory per rank (MB) at -np {a.np}; {a.shape}")
    print(f"{'strategy':<14}" + "".join(f"{'L=' + str(L):>12}" for L in lengths) +
          f"{'MB/1K tok':>12}{'longest L in ' + str(a.budget_gib) + ' GiB':>24}")
    rows = [("single-rank", single)] + [(n, peaks[n]) for n in names]
    for name, pts in rows:
        xs = sorted(pts)
        cells = "".join(f"{pts[L] / 1e6:>12.1f}" if L in pts else f"{'-':>12}" for L in lengths)
        if len(xs) >= 2:
            slope, icpt = fit(xs, [pts[x] for x in xs])
            longest = (budget - icpt) / slope if slope > 0 else float("inf")
            print(f"{name:<14}{cells}{slope * 1024 / 1e6:>12.2f}{longest / 1024:>21.0f}K")
        else:
            print(f"{name:<14}{cells}{'-':>12}{'-':>24}")


if __name__ == "__main__":
    main()
