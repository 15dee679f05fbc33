#!/usr/bin/env python3
"""Text table of the two benchmarks of scripts/gpu-check.sh (docs/gpu.md).

usage: bench_table.py OURS.jsonl TORCH.jsonl

Rows pair the JSON lines of gpu/attention_cuda_bench (impl "ody") and gpu/sdpa_bench.py
(impl "torch") by (L, Dh, heads, batch, causal, dtype). Times are milliseconds, speeds
TFLOP/s (causal counted as half), and ours/torch is the ratio of the speeds (= torch's
time / ours): 1.00 is as fast as PyTorch's flash attention, 0.25 four times slower. A
configuration that one side lacks or failed shows "-" and its error below the table.
Standard library only.
"""
import json
import sys


def load(path):
    rows, problems = {}, []
    try:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line.startswith("{"):
                    continue
                try:
                    r = json.loads(line)
                except json.JSONDecodeError as e:
                    problems.append(f"{path}:{n}: not JSON ({e})")
                    continue
                key = tuple(r.get(k) for k in ("L", "Dh", "heads", "batch", "causal", "dtype"))
                rows[key] = r
    except OSError as e:
        problems.append(f"{path}: {e.strerror}")
    return rows, problems


def num(r, k):
    if r is None or "error" in r or not isinstance(r.get(k), (int, float)):
        return None
    return float(r[k])


def cell(x, width, prec):
    return "-".rjust(width) if x is None else f"{x:{width}.{prec}f}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    ours, p1 = load(argv[1])
    torch, p2 = load(argv[2])
    keys = sorted(set(ours) | set(torch), key=lambda k: tuple((x is None, str(type(x)), x) for x in k))
    head = (
        f"{'L':>6} {'Dh':>3} {'H':>3} {'causal':>6} {'dtype':>5} | "
        f"{'fwd ms':>8} {'torch':>8} {'TF/s':>6} {'torch':>6} {'ours/torch':>10} | "
        f"{'bwd ms':>8} {'torch':>8} {'TF/s':>6} {'torch':>6} {'ours/torch':>10}"
    )
    out = [
        "CUDA attention (ours: kernels/cuda) vs torch SDPA flash; ours/torch = ratio of TFLOP/s",
        head,
        "-" * len(head),
    ]
    notes = p1 + p2
    for k in keys:
        o, t = ours.get(k), torch.get(k)
        L, dh, h, _, causal, dtype = k
        line = f"{L:>6} {dh:>3} {h:>3} {str(bool(causal)).lower():>6} {dtype:>5} |"
        for d in ("fwd", "bwd"):
            oms, tms = num(o, f"{d}_ms"), num(t, f"{d}_ms")
            otf, ttf = num(o, f"{d}_tflops"), num(t, f"{d}_tflops")
            line += (
                f" {cell(oms, 8, 2)} {cell(tms, 8, 2)} {cell(otf, 6, 1)}"
                f" {cell(ttf, 6, 1)} {cell(ratio(otf, ttf), 10, 3)} |"
            )
        out.append(line.rstrip(" |"))
        for name, r in (("ours", o), ("torch", t)):
            if r is None:
                notes.append(f"L={L} Dh={dh} causal={causal}: no {name} result")
            elif "error" in r:
                notes.append(f"L={L} Dh={dh} causal={causal}: {name}: {r['error']}")
            elif r.get("finite") is False:
                notes.append(f"L={L} Dh={dh} causal={causal}: {name}: NaN or inf in the results")
    if not keys:
        notes.append("no benchmark results")
    out += [f"note: {n}" for n in notes]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
