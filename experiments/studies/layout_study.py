#!/usr/bin/env python3
"""Topology studies with the cost model (the `odysseus` Python module, docs/plan.md):

  length  predicted step time per strategy (its best mesh) against sequence length, on a
          preset cluster, with the memory upper bound and the device-memory (OOM) line
  nodes   the best strategy and mesh at each cluster size

Each writes a CSV and a matplotlib PNG (no display needed):

    PYTHONPATH=build/python /usr/bin/python3 experiments/studies/layout_study.py length \\
        --preset dgx-a100 --nodes 2 --model llama3-8b --lengths 32K,64K,128K --out study
    PYTHONPATH=build/python /usr/bin/python3 experiments/studies/layout_study.py nodes \\
        --preset dgx-h100 --nodes-list 1,2,4,8,16 --model llama3-8b --seq-len 1M --out study
"""
import argparse
import csv
import os
import sys

import odysseus as ody


def size(text):
    mult = {"K": 1024, "M": 1024 ** 2}.get(text[-1].upper(), 1)
    return int(text[:-1] if mult > 1 else text) * mult


def best_per_strategy(plans):
    best = {}
    for p in plans:  # best first
        best.setdefault(p["strategy"], p)
    return best


def study_length(a):
    rows = []
    for L in [size(x) for x in a.lengths.split(",")]:
        r = ody.plan(a.preset, a.nodes, L, model=a.model)
        for s, p in best_per_strategy(r["plans"]).items():
            rows.append({"seq_len": L, "strategy": s, "mesh": p["mesh"], "step_s": p["step_s"],
                         "exposed_comm_s": p["exposed_comm_s"], "mfu": p["mfu"],
                         "mem_gb": p["peak_mem_bytes"] / 1e9, "oom": p["oom"]})
    path = a.out + "_length.csv"
    write(path, rows)
    mem = ody.cluster(a.preset, a.nodes)["device"]["memory_bytes"] / 1e9
    plot(a.out + "_length.png", rows, "seq_len", ["step_s", "mem_gb"],
         "%s x %d, %s: step time and memory per strategy (best mesh)" % (a.preset, a.nodes, a.model),
         hline=("mem_gb", mem))
    return path


def study_nodes(a):
    rows = []
    for n in [int(x) for x in a.nodes_list.split(",")]:
        r = ody.plan(a.preset, n, size(a.seq_len), model=a.model)
        p = r["plans"][0]
        rows.append({"nodes": n, "gpus": n * 8, "strategy": p["strategy"], "mesh": p["mesh"],
                     "step_s": p["step_s"], "mfu": p["mfu"], "exposed_comm_s": p["exposed_comm_s"]})
    path = a.out + "_nodes.csv"
    write(path, rows)
    return path


def write(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print("wrote", path, "(%d rows)" % len(rows))


def plot(path, rows, x, ys, title, hline=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(ys), figsize=(6 * len(ys), 4))
    for ax, y in zip(axes, ys):
        for s in sorted({r["strategy"] for r in rows}):
            pts = [(r[x], r[y]) for r in rows if r["strategy"] == s]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=s)
        if hline and hline[0] == y:
            ax.axhline(hline[1], color="k", linestyle="--", label="device memory")
        ax.set_xscale("log", base=2)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print("wrote", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="study", required=True)
    l = sub.add_parser("length")
    l.add_argument("--lengths", default="16K,32K,64K,128K")
    l.add_argument("--nodes", type=int, default=1)
    n = sub.add_parser("nodes")
    n.add_argument("--nodes-list", default="1,2,4,8,16")
    n.add_argument("--seq-len", default="128K")
    for p in (l, n):
        p.add_argument("--preset", default="dgx-a100")
        p.add_argument("--model", default="llama3-8b")
        p.add_argument("--out", default="study")
    a = ap.parse_args()
    try:
        study_length(a) if a.study == "length" else study_nodes(a)
    except ValueError as e:
        print("layout_study: error:", e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
