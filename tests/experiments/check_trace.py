#!/usr/bin/env python3
"""Checks an ody-bench --trace file: valid Chrome trace JSON, one process per rank with
named tracks, compute spans and blocked waits carrying bytes, and every operation in
flight opened and closed once.  Usage: check_trace.py FILE WORLD_SIZE"""
import collections
import json
import sys

path, world = sys.argv[1], int(sys.argv[2])
events = json.load(open(path))["traceEvents"]
names = {e["pid"]: e["args"]["name"] for e in events if e["name"] == "process_name"}
assert sorted(names) == list(range(world)), f"process tracks {sorted(names)} != ranks 0..{world - 1}"
for rank in range(world):
    mine = [e for e in events if e.get("pid") == rank and e["ph"] != "M"]
    compute = [e for e in mine if e["ph"] == "X" and e["tid"] == 0]
    waits = [e for e in mine if e["ph"] == "X" and e["tid"] == 1]
    assert compute, f"rank {rank}: no compute spans"
    assert all(e["dur"] >= 0 and e["ts"] >= -1e3 for e in compute + waits), f"rank {rank}: bad times"
    if world > 1:
        assert waits, f"rank {rank}: no blocked waits"
        assert all(e["name"].startswith("wait ") and "bytes" in e["args"] for e in waits)
    balance = collections.Counter()
    for e in mine:
        if e["ph"] == "b":
            balance[e["id"]] += 1
        elif e["ph"] == "e":
            balance[e["id"]] -= 1
    assert all(v == 0 for v in balance.values()), f"rank {rank}: unmatched async spans"
print(f"trace OK: {len(events)} events, {world} ranks")
