#!/usr/bin/env python3
"""PyTorch's flash attention, timed like gpu/attention_cuda_bench.cpp (docs/gpu.md).

torch.nn.functional.scaled_dot_product_attention restricted to the flash backend
(torch.nn.attention.sdpa_kernel(SDPBackend.FLASH_ATTENTION) where the installed torch has
it, else torch.backends.cuda.sdp_kernel(enable_flash=True, others False)), forward and
backward, cudaEvent timing (torch.cuda.Event), one JSON line per configuration on
stdout with the same keys as the C++ benchmark ("impl": "torch").

Same problem as the C++ benchmark: q, k, v, dout [B, L, H, Dh] in bf16 (or f16), passed
to SDPA as [B, H, L, Dh] views (transpose(1, 2), no copy), is_causal for causal; out and
the gradients are in the input dtype (the flash kernels' own choice). Forward is timed
with autograd recording (as in training); backward is torch.autograd.grad of the saved
graph (retain_graph), which does not accumulate into .grad. Each time is the median of
`reps` calls after a warm-up call; reps = min(--max-reps, --target-ms / warm-up time), 0
(the warm-up time) when a call is slower than --target-ms. FLOPs: forward 4 B H L^2 Dh,
backward 2.5x, both halved when causal (kernels/attention.hpp).

usage: sdpa_bench.py [--L 4096,8192] [--dh 64,128] [--causal 0,1] [--heads N]
                     [--batch 1] [--dtype bf16|f16] [--target-ms 1000] [--max-reps 10]
Exit 0: every configuration ran; 1: one failed (its JSON line has "error"); 2: no CUDA
device or no torch.
"""
import argparse
import contextlib
import json
import sys


def int_list(s):
    return [int(x) for x in s.split(",") if x]


def parse():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--L", type=int_list, default=[4096])
    ap.add_argument("--dh", type=int_list, default=[128])
    ap.add_argument("--causal", type=int_list, default=[0])
    ap.add_argument("--heads", type=int, default=0, help="0: 2048 / Dh")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--dtype", choices=["bf16", "f16"], default="bf16")
    ap.add_argument("--target-ms", type=float, default=1000.0)
    ap.add_argument("--max-reps", type=int, default=10)
    return ap.parse_args()


def flash_only(torch):
    """A context manager factory that allows only the flash SDPA backend, and its name."""
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel

        return (lambda: sdpa_kernel(SDPBackend.FLASH_ATTENTION)), "torch.nn.attention.sdpa_kernel"
    except ImportError:
        pass
    if hasattr(torch.backends.cuda, "sdp_kernel"):
        return (
            lambda: torch.backends.cuda.sdp_kernel(
                enable_flash=True, enable_math=False, enable_mem_efficient=False
            ),
            "torch.backends.cuda.sdp_kernel",
        )
    return contextlib.nullcontext, "default (no backend selection API)"


def measure(torch, fn, target_ms, max_reps):
    start = torch.cuda.Event(enable_timing=True)
    stop = torch.cuda.Event(enable_timing=True)

    def once():
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        return start.elapsed_time(stop)

    warm = once()
    reps = int(min(max_reps, target_ms // warm if warm > 0 else max_reps))
    if reps <= 0:
        return {"ms": warm, "min_ms": warm, "warm_ms": warm, "reps": 0}
    ts = sorted(once() for _ in range(reps))
    return {"ms": ts[len(ts) // 2], "min_ms": ts[0], "warm_ms": warm, "reps": reps}


def run_config(torch, F, allow, a, L, dh, heads, causal, dtype):
    dev = "cuda"
    shape = (a.batch, L, heads, dh)
    gen = torch.Generator(device=dev).manual_seed(1234)

    def uniform(scale, grad):
        x = (torch.rand(shape, generator=gen, device=dev, dtype=torch.float32) * 2 - 1) * scale
        return x.to(dtype).requires_grad_(grad)

    q, k, v = uniform(2.0, True), uniform(2.0, True), uniform(1.0, True)
    dout = uniform(1.0, False).transpose(1, 2)
    qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))  # [B, H, L, Dh] views
    holder = {}

    with allow():

        def fwd():
            holder["out"] = F.scaled_dot_product_attention(qt, kt, vt, is_causal=bool(causal))

        f = measure(torch, fwd, a.target_ms, a.max_reps)
        out = holder["out"]

        def bwd():
            holder["grads"] = torch.autograd.grad(out, (q, k, v), dout, retain_graph=True)

        b = measure(torch, bwd, a.target_ms, a.max_reps)
    finite = bool(torch.isfinite(out).all()) and all(
        bool(torch.isfinite(g).all()) for g in holder["grads"]
    )
    fwd_flop = 4.0 * a.batch * heads * L * L * dh * (0.5 if causal else 1.0)
    bwd_flop = 2.5 * fwd_flop

    def tflops(flop, ms):
        return flop / (ms * 1e-3) / 1e12 if ms > 0 else 0.0

    return {
        "fwd_ms": f["ms"],
        "bwd_ms": b["ms"],
        "fwd_tflops": tflops(fwd_flop, f["ms"]),
        "bwd_tflops": tflops(bwd_flop, b["ms"]),
        "fwdbwd_tflops": tflops(fwd_flop + bwd_flop, f["ms"] + b["ms"]),
        "fwd_min_ms": f["min_ms"],
        "bwd_min_ms": b["min_ms"],
        "fwd_warm_ms": f["warm_ms"],
        "bwd_warm_ms": b["warm_ms"],
        "fwd_reps": f["reps"],
        "bwd_reps": b["reps"],
        "fwd_flop": fwd_flop,
        "bwd_flop": bwd_flop,
        "out_dtype": a.dtype,
        "grad_dtype": a.dtype,
        "finite": finite,
    }


def main():
    a = parse()
    try:
        import torch
        import torch.nn.functional as F
    except Exception as e:  # noqa: BLE001 - any import failure means "no torch"
        print(f"sdpa_bench: no torch: {e}")
        return 2
    if not torch.cuda.is_available():
        print(f"sdpa_bench: no CUDA device for torch {torch.__version__}")
        return 2
    allow, api = flash_only(torch)
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float16
    device = torch.cuda.get_device_name(0)
    failed = 0
    for L in a.L:
        for dh in a.dh:
            for causal in a.causal:
                heads = a.heads if a.heads > 0 else max(1, 2048 // dh)
                rec = {
                    "impl": "torch",
                    "L": L,
                    "Dh": dh,
                    "heads": heads,
                    "batch": a.batch,
                    "causal": bool(causal),
                    "dtype": a.dtype,
                }
                try:
                    rec.update(run_config(torch, F, allow, a, L, dh, heads, causal, dtype))
                except Exception as e:  # noqa: BLE001 - reported per configuration
                    failed += 1
                    rec["error"] = f"{type(e).__name__}: {e}".replace("\n", " ")[:500]
                rec.update({"device": device, "torch": torch.__version__, "backend_api": api})
                print(json.dumps(rec), flush=True)
                torch.cuda.empty_cache()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
