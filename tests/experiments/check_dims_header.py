#!/usr/bin/python3
"""ody-bench --backend auto on 2 pretend nodes x 2 ranks: the JSON header's dims record
every strategy's mesh dimensions with their link class and the backend chosen for it
(experiments/bench/nodes.hpp): ucx for the dimensions that cross the pretend network,
mpi for those inside a node; one-dimensional strategies span both nodes, two-level, with
their intra-node level on mpi and their inter-node level on ucx ("mpi+ucx")."""
import json
import sys

with open(sys.argv[1]) as f:
    header = json.loads(f.readline())
assert header["backend"] == "auto", header["backend"]
dims = {(d["strategy"], d["name"]): d for d in header["dims"]}
for d in header["dims"]:
    for key in ("strategy", "name", "size", "link", "backend", "two_level", "why"):
        assert key in d, f"dims record lacks {key}: {d}"
    # Inside a node mpi; across the pretend network ucx, and a two-level dimension's
    # intra-node level on mpi.
    want = "mpi" if d["link"] != "NET" else "mpi+ucx" if d["two_level"] else "ucx"
    assert d["backend"] == want, f"{d}: expected {want} for link {d['link']}"
for strategy, inner in (("usp", "ulysses"), ("odysseus-ring", "tp")):
    assert dims[(strategy, inner)]["link"] == "PHB", dims[(strategy, inner)]
    assert dims[(strategy, "ring")]["link"] == "NET", dims[(strategy, "ring")]
    assert not dims[(strategy, "ring")]["two_level"], dims[(strategy, "ring")]
for strategy, dim in (("ulysses", "ulysses"), ("ring", "ring"), ("tpsp", "tp")):
    assert dims[(strategy, dim)]["two_level"], dims[(strategy, dim)]
print(len(header["dims"]), "dims:", [(d["strategy"], d["name"], d["backend"]) for d in header["dims"]])
