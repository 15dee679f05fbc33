#!/usr/bin/env python3
"""The cost model against measurements here (issue 13's validation): ody-bench runs every
strategy at several shapes and world sizes 1 and 2, the model predicts each from a profile
of this machine (ody-plan --calibrate), and the table shows predicted, measured and the
error of the step time (forward + backward), forward, backward, exposed communication
and peak memory. Runs one after another, nothing else should be running.

    mpirun -np 2 build/bin/ody-plan --calibrate --out build/profile.json
    PYTHONPATH=build/python /usr/bin/python3 experiments/studies/validate.py \\
        --profile build/profile.json --out build/validate.jsonl
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import odysseus as ody

SHAPES = [  # (L, d, H, G, i)
    (2048, 512, 8, 8, 1408),
    (4096, 512, 8, 2, 1408),
    (4096, 1024, 8, 8, 2816),
]


def run_bench(np_, shape, bin_dir):
    L, d, H, G, i = shape
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as f:
        path = f.name
    cmd = ["mpirun", "-np", str(np_), "--oversubscribe", os.path.join(bin_dir, "ody-bench"),
           "--strategy", "all", "--seq-len", str(L), "--hidden", str(d), "--heads", str(H),
           "--kv-heads", str(G), "--ffn", str(i), "-n", "3", "-w", "1", "--no-check", "--json", path]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    recs = [json.loads(l) for l in open(path) if l.strip()]
    os.unlink(path)
    return [r for r in recs if r.get("type") == "result"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", required=True)
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--out", default="validate.jsonl")
    a = ap.parse_args()
    cases = []
    for np_ in (1, 2):
        for shape in SHAPES:
            L, d, H, G, i = shape
            for r in run_bench(np_, shape, a.bin):
                mesh = r["mesh"] if "," in r["mesh"] else ""
                # The profile's world is its ranks; a 1-rank case uses a 1-rank copy of it.
                prof = a.profile
                if np_ == 1:
                    p = json.load(open(a.profile))
                    p["gpus_per_node"] = 1
                    prof = a.profile + ".np1"
                    json.dump(p, open(prof, "w"))
                    mesh = ""
                pr = ody.predict("", 1, r["strategy"], L, shape={"B": 1, "d": d, "H": H, "G": G, "i": i,
                                 "causal": True, "dtype": "f32"}, layers=1, mesh=mesh, profile=prof)
                meas = (r["fwd_ms"] + r["bwd_ms"]) / 1e3
                # ody-bench's measured peak includes the caller's x, dy, y, dx shards (4 of them).
                shard = 4 * (L // np_) * d * 4
                c = {"strategy": r["strategy"], "world_size": np_, "seq_len": L, "d": d, "G": G,
                     "predicted_s": pr["step_s"], "measured_s": meas,
                     "error": pr["step_s"] / meas - 1,
                     "fwd": [pr["fwd_s"], r["fwd_ms"] / 1e3], "bwd": [pr["bwd_s"], r["bwd_ms"] / 1e3],
                     "exposed": [pr["exposed_comm_s"], r["exposed_comm_ms"] / 1e3],
                     "peak": [pr["peak_mem_bytes"] + shard, r["peak_mem_bytes"]]}
                cases.append(c)
    errs = [abs(c["error"]) for c in cases]
    summary = {"cases": cases, "median_abs_error": statistics.median(errs), "max_abs_error": max(errs)}
    with open(a.out, "w") as f:
        json.dump(summary, f)
    print("| strategy | N | L | d | G | predicted s | measured s | error | fwd err | bwd err | exposed pred/meas ms | peak err |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for c in cases:
        fe = c["fwd"][0] / c["fwd"][1] - 1
        be = c["bwd"][0] / c["bwd"][1] - 1
        pe = c["peak"][0] / c["peak"][1] - 1
        print("| %s | %d | %d | %d | %d | %.3f | %.3f | %+.0f %% | %+.0f %% | %+.0f %% | %.1f / %.1f | %+.0f %% |" % (
            c["strategy"], c["world_size"], c["seq_len"], c["d"], c["G"], c["predicted_s"], c["measured_s"],
            100 * c["error"], 100 * fe, 100 * be, 1e3 * c["exposed"][0], 1e3 * c["exposed"][1], 100 * pe))
    print("\nmedian |error| %.1f %%, worst %.1f %% over %d cases" % (
        100 * summary["median_abs_error"], 100 * summary["max_abs_error"], len(cases)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
