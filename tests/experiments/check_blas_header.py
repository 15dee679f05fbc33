#!/usr/bin/python3
"""The JSON header of an ody-bench run records the BLAS in use (layers/blas_kernel.hpp)."""
import json
import sys

with open(sys.argv[1]) as f:
    header = json.loads(f.readline())
blas = header.get("blas")
assert isinstance(blas, dict), f"header has no blas record: {header}"
for key in ("library", "version", "kernel", "chosen_by", "cpu_best", "generic", "path"):
    assert key in blas, f"blas record lacks {key}: {blas}"
assert blas["library"] == "OpenBLAS", blas
assert blas["chosen_by"] in ("openblas", "odysseus", "user"), blas
assert blas["generic"] is False, f"generic BLAS kernel on this CPU: {blas}"
print("blas:", blas)
