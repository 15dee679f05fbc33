#!/usr/bin/env python3
"""The three studies of docs/studies.md, from the cost model and the strategies' cost() (the
`odysseus` Python module). Prints markdown tables; writes CSVs (and PNGs) next to --out.

    PYTHONPATH=build/python /usr/bin/python3 experiments/studies/paper_studies.py --out build/studies

  1  the seed's 8 x A100 Llama2-7B table (16K, 32K, 64K): per-iteration time and memory
  2  the length at which Odysseus's traffic drops below TP-SP's, against the MLP size i
     (the seed claims L > i)
  3  Ulysses, Ring, USP, Odysseus x Ring, Odysseus from 1 to 16 DGX A100 / H100 nodes at
     128K and 1M tokens (llama3-8b): the best mesh of each and the winner
"""
import argparse
import csv
import os
import sys

import odysseus as ody

SEED = {  # ../shared/docs/algorithms.md section 5: seconds for 10 iterations, allocated GB
    "16K": {"ring": (10.37, 29.1), "ulysses": (6.62, 29.6), "odysseus": (7.10, 18.5), "tpsp": (6.86, 18.4)},
    "32K": {"ring": (20.17, 40.8), "ulysses": (13.76, 41.8), "odysseus": (14.99, 31.4), "tpsp": (15.2, 31.4)},
    "64K": {"ring": None, "ulysses": None, "odysseus": (38.11, 65.6), "tpsp": (39.43, 57.6)},
}


def study1(out):
    print("### 1. The seed's table (8 x A100 80GB, Llama2-7B, batch 1; per iteration)\n")
    print("| L | strategy | seed s/it | model s/it | model/seed | seed GB | model GB (fp32 upper bound) | model OOM |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for L, seed in SEED.items():
        n = int(L[:-1]) * 1024
        for s, ref in seed.items():
            p = ody.predict("dgx-a100", 1, s, n, model="llama2-7b")
            t = p["step_s"]
            if ref:
                print("| %s | %s | %.3f | %.3f | %.2f | %.1f | %.1f | %s |" % (
                    L, s, ref[0] / 10, t, t / (ref[0] / 10), ref[1], p["peak_mem_bytes"] / 1e9,
                    "yes" if p["oom"] else "no"))
            else:
                print("| %s | %s | OOM | %.3f | - | OOM | %.1f | %s |" % (
                    L, s, t, p["peak_mem_bytes"] / 1e9, "yes" if p["oom"] else "no"))
            rows.append({"L": n, "strategy": s, "model_s": t, "seed_s": ref[0] / 10 if ref else "",
                         "model_gb": p["peak_mem_bytes"] / 1e9, "seed_gb": ref[1] if ref else "OOM"})
    write(out + "_1_seed.csv", rows)


def total_bytes(c):
    return sum(v["bytes_sent"] for ph in ("forward", "backward") for v in c[ph].values())


def study2(out):
    print("\n### 2. Where Odysseus's traffic drops below TP-SP's (N = 8, d = 4096, H = G = 32, bf16)\n")
    print("| i | crossover L (bytes per rank per iteration equal) | L / i |")
    print("|---|---|---|")
    rows = []
    for i in (2816, 5632, 11008, 14336, 28672):
        def diff(L):
            shape = {"B": 1, "L": L, "d": 4096, "H": 32, "G": 32, "i": i, "causal": True, "dtype": "bf16"}
            return total_bytes(ody.strategy_cost("odysseus", shape, 8)) - total_bytes(ody.strategy_cost("tpsp", shape, 8))
        lo, hi = 8, 8
        while diff(hi) > 0:
            hi *= 2
        while hi - lo > 8:  # smallest multiple of 8 with Odysseus below TP-SP
            mid = (lo + hi) // 16 * 8
            if diff(mid) > 0:
                lo = mid
            else:
                hi = mid
        print("| %d | %d | %.2f |" % (i, hi, hi / i))
        rows.append({"i": i, "crossover_L": hi, "ratio": hi / i})
    write(out + "_2_crossover.csv", rows)


def study3(out):
    names = ["ulysses", "ring", "usp", "odysseus-ring", "odysseus"]
    rows = []
    for preset in ("dgx-a100", "dgx-h100"):
        for L, label in ((131072, "128K"), (1048576, "1M")):
            print("\n### 3. %s, llama3-8b, L = %s: step time (s) of each strategy's best mesh\n" % (preset, label))
            print("| nodes | " + " | ".join(names) + " | winner |")
            print("|---|" + "---|" * (len(names) + 1))
            for nodes in (1, 2, 4, 8, 16):
                r = ody.plan(preset, nodes, L, model="llama3-8b", strategies=names)
                best = {}
                for p in r["plans"]:
                    best.setdefault(p["strategy"], p)
                cells = []
                for s in names:
                    p = best.get(s)
                    cells.append("%.2f (%s)" % (p["step_s"], p["mesh"]) if p else "invalid")
                    if p:
                        rows.append({"preset": preset, "L": L, "nodes": nodes, "strategy": s,
                                     "mesh": p["mesh"], "step_s": p["step_s"], "mfu": p["mfu"],
                                     "exposed_comm_s": p["exposed_comm_s"]})
                w = r["plans"][0]
                print("| %d | %s | %s %s |" % (nodes, " | ".join(cells), w["strategy"], w["mesh"]))
    write(out + "_3_nodes.csv", rows)


def write(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="studies")
    a = ap.parse_args()
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    study1(a.out)
    study2(a.out)
    study3(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
