#!/usr/bin/env python3
"""Runs every row of docs/errors.md and checks it: the command exits with the row's code and
prints exactly one line containing "error", equal to the row's message (after the
placeholders are filled in). The table is the test's input, so it cannot drift from the code.

    check_errors.py DOCS_ERRORS_MD BUILD_DIR [--print]

Placeholders, in commands and messages: {bin} the tools (BUILD_DIR/bin), {fix} a directory of
bad input files this script writes first, {bad_plugins} the broken test plugins' directory.
--print runs every row and prints what it got instead of checking (to write new rows).
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys


def write_fixtures(fix):
    shutil.rmtree(fix, ignore_errors=True)
    os.makedirs(fix)

    def npy(path, header, payload=b""):
        magic = b"\x93NUMPY\x01\x00"
        h = header.encode()
        pad = 64 - (len(magic) + 2 + len(h) + 1) % 64
        h = h + b" " * pad + b"\n"
        with open(path, "wb") as f:
            f.write(magic + struct.pack("<H", len(h)) + h + payload)

    # A --load directory with one bad file each (x.npy decides the shape).
    def block_dir(name, x_header, x_payload, wk_shape="(8, 64)"):
        d = os.path.join(fix, name)
        os.makedirs(d)
        shapes = {"x": "(1, 64, 64)", "dy": "(1, 64, 64)", "attn_norm": "(64,)", "wq": "(64, 64)",
                  "wk": wk_shape, "wv": wk_shape, "wo": "(64, 64)", "mlp_norm": "(64,)",
                  "w_gate": "(96, 64)", "w_up": "(96, 64)", "w_down": "(64, 96)"}
        for t, shape in shapes.items():
            n = 1
            for s in re.findall(r"\d+", shape):
                n *= int(s)
            hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % shape
            npy(os.path.join(d, t + ".npy"), hdr, b"\0" * (4 * n))
        if x_header is not None:
            npy(os.path.join(d, "x.npy"), x_header, x_payload)
        return d

    block_dir("npy_truncated", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 64, 64), }",
              b"\0" * 100)
    block_dir("npy_dtype", "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 64, 64), }",
              b"\0" * (8 * 64 * 64))
    block_dir("npy_shape", "{'descr': '<f4', 'fortran_order': False, 'shape': (64, 64), }",
              b"\0" * (4 * 64 * 64))
    block_dir("npy_fortran", "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 64, 64), }",
              b"\0" * (4 * 64 * 64))
    d = block_dir("npy_magic", None, b"")
    with open(os.path.join(d, "x.npy"), "wb") as f:
        f.write(b"NOTNUMPY" + b"\0" * 200)
    block_dir("npy_wk_shape", None, b"", wk_shape="(7, 64)")
    os.makedirs(os.path.join(fix, "empty_dir"))
    with open(os.path.join(fix, "not_a_dir"), "w") as f:
        f.write("x")
    # Topology and cluster files.
    with open(os.path.join(fix, "truncated.xml"), "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<topology version="2.0">\n<object type="Machine"')
    with open(os.path.join(fix, "nccl_truncated.xml"), "w") as f:
        f.write('<system version="1">\n<cpu numaid="0"')
    with open(os.path.join(fix, "cluster_schema.json"), "w") as f:
        json.dump({"nodes": "eight"}, f)
    with open(os.path.join(fix, "cluster_values.json"), "w") as f:
        json.dump({"nodes": [{"gpus": -3}]}, f)
    with open(os.path.join(fix, "cluster_counts.json"), "w") as f:
        json.dump({"nodes": [{"packages": -2}]}, f)
    with open(os.path.join(fix, "cluster_syntax.json"), "w") as f:
        f.write('{"nodes": [')
    # A cost-model profile of another version.
    with open(os.path.join(fix, "profile_old.json"), "w") as f:
        json.dump({"format": "odysseus-profile-0"}, f)
    # Algorithm tables.
    with open(os.path.join(fix, "tune_syntax.json"), "w") as f:
        f.write("{")
    with open(os.path.join(fix, "tune_world.json"), "w") as f:
        json.dump({"version": 1, "world_size": 7, "host": "elsewhere", "backend": "mpi", "entries": []}, f)


def rows(md):
    out = []
    for line in open(md, encoding="utf-8"):
        m = re.match(r"^\|\s*(\d+)\s*\|\s*`(.+?)`\s*\|\s*`(.*)`\s*\|\s*(\d+)\s*\|", line)
        if m:
            out.append((int(m.group(1)), m.group(2), m.group(3), int(m.group(4))))
    return out


def main():
    md, build = sys.argv[1], os.path.abspath(sys.argv[2])
    show = "--print" in sys.argv
    fix = os.path.join(build, "errors-fixtures")
    write_fixtures(fix)
    subst = {"{bin}": os.path.join(build, "bin"), "{fix}": fix,
             "{bad_plugins}": os.path.join(build, "tests", "backends", "plugin", "bad-plugins")}

    def fill(s):
        for k, v in subst.items():
            s = s.replace(k, v)
        return s

    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OPENBLAS_NUM_THREADS="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    table = rows(md)
    failed = 0
    seen = set()
    for n, cmd, msg, code in table:
        if n in seen:
            print("row %d: duplicate number" % n)
            failed += 1
        seen.add(n)
        try:
            p = subprocess.run(fill(cmd), shell=True, env=env, capture_output=True, text=True,
                               timeout=60)
        except subprocess.TimeoutExpired:
            print("row %d: HUNG (60 s): %s" % (n, cmd))
            failed += 1
            continue
        lines = [l for l in (p.stdout + p.stderr).splitlines() if "error" in l]
        if show:
            print("| %d | `%s` | `%s` | %d |" % (n, cmd, lines[0] if lines else "", p.returncode))
            continue
        want = fill(msg)
        problems = []
        if p.returncode != code:
            problems.append("exit %d, expected %d" % (p.returncode, code))
        if len(lines) != 1:
            problems.append("%d error lines, expected 1" % len(lines))
        elif lines[0] != want:
            problems.append("message\n    got:      %s\n    expected: %s" % (lines[0], want))
        if problems:
            failed += 1
            print("row %d FAILED: %s\n  %s\n  output:\n%s" % (n, cmd, "; ".join(problems),
                                                            (p.stdout + p.stderr)[-2000:]))
        else:
            print("row %d ok (exit %d)" % (n, code))
    if not show:
        print("%d rows, %d failed" % (len(table), failed))
        if len(table) < 40:
            print("docs/errors.md must hold at least 40 rows")
            failed += 1
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
