#!/usr/bin/env python3
"""Compares two ody-bench --dump outputs of the same inputs (e.g. a strategy at np 2
against another strategy run from the first run's dumped inputs with --load): y, dx and
every weight gradient agree to a relative 1e-4 (f32 orderings of sums differ by ~1e-6
here; a wrong shard or head gives O(1)).  Usage: check_dump.py DIR_A DIR_B"""
import os
import sys

import numpy as np

a, b = sys.argv[1], sys.argv[2]
names = ["y", "dx", "dattn_norm", "dwq", "dwk", "dwv", "dwo", "dmlp_norm", "dw_gate", "dw_up", "dw_down"]
for n in names:
    x = np.load(os.path.join(a, n + ".npy"))
    y = np.load(os.path.join(b, n + ".npy"))
    assert x.shape == y.shape, f"{n}: shapes {x.shape} vs {y.shape}"
    assert x.dtype == np.float32 and y.dtype == np.float32, f"{n}: dtype"
    err = float(np.max(np.abs(x - y))) / max(float(np.max(np.abs(y))), 1e-30)
    assert err < 1e-4, f"{n}: relative difference {err:.3e}"
print(f"dump OK: {len(names)} tensors agree")
