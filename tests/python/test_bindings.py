#!/usr/bin/env python3
"""The Python module `odysseus` (python/module.cpp): every function returns plain Python
objects equal to what the C++ side computes; bad input is a ValueError with the C++ line.
Run by CTest with PYTHONPATH=build/python (python-bindings)."""
import sys
import unittest

import odysseus as ody


class Bindings(unittest.TestCase):
    def test_strategies(self):
        names = ody.strategy_names()
        for n in ("ulysses", "ring", "tpsp", "odysseus", "usp", "odysseus-ring", "allgather-kv",
                  "token-ring", "double-ring"):
            self.assertIn(n, names)

    def test_cost_is_the_formula(self):
        # Ring, N = 4, f32: forward (N-1) sends of 2·B·(L/N)·G·Dh floats (docs/algorithms.md 3.3).
        shape = {"B": 1, "L": 4096, "d": 1024, "H": 8, "G": 2, "i": 2816, "causal": True}
        c = ody.strategy_cost("ring", shape, 4)
        self.assertEqual(c["forward"]["send"]["ops"], 3)
        self.assertEqual(c["forward"]["send"]["bytes_sent"], 3 * 2 * 1024 * 2 * 128 * 4)
        self.assertGreater(c["peak_bytes"], 0)
        self.assertEqual(c["by_dim"], {})
        u = ody.strategy_cost("usp", shape, 4, mesh="ulysses=2,ring=2")
        self.assertEqual(set(u["by_dim"]), {"ulysses", "ring", "world"})
        self.assertEqual(u["mesh"], "ulysses=2,ring=2")
        total = sum(p["forward"].get("alltoall", {}).get("bytes_sent", 0) for p in u["by_dim"].values())
        self.assertEqual(total, u["forward"]["alltoall"]["bytes_sent"])

    def test_topology_round_trip(self):
        t = ody.topology(preset="dgx-a100", nodes=2, mesh="ulysses=8,ring=2")
        self.assertEqual(len(t["nodes"]), 2)
        self.assertEqual(len(t["nodes"][0]["gpus"]), 8)
        spans = {d["name"]: d["span"] for d in t["placement"]}
        self.assertEqual(spans["ring"], "NET")
        self.assertNotEqual(spans["ulysses"], "NET")

    def test_plan_round_trip(self):
        p = ody.plan("dgx-h100", 2, 65536, model="llama3-8b")
        plans = p["plans"]
        self.assertTrue(plans)
        self.assertTrue(all(a["step_s"] <= b["step_s"] for a, b in zip(plans, plans[1:])))
        for key in ("strategy", "mesh", "step_s", "fwd_s", "bwd_s", "exposed_comm_s",
                    "tokens_per_s", "mfu", "peak_mem_bytes", "oom"):
            self.assertIn(key, plans[0])
        self.assertTrue(all(set(v) == {"strategy", "mesh", "rule"} for v in p["invalid"]))
        best = plans[0]
        one = ody.predict("dgx-h100", 2, best["strategy"], 65536, model="llama3-8b",
                          mesh=best["mesh"] if "," in best["mesh"] else "")
        self.assertAlmostEqual(one["step_s"], best["step_s"], places=12)
        c = ody.cluster("dgx-a100", 4)
        self.assertEqual(c["nodes"] * c["gpus_per_node"], 32)

    def test_bad_input(self):
        with self.assertRaisesRegex(ValueError, "--preset: expected one of dgx-a100, dgx-h100"):
            ody.plan("dgx-z100", 1, 4096, model="llama3-8b")
        with self.assertRaisesRegex(ValueError, "--model: expected one of"):
            ody.plan("dgx-a100", 1, 4096, model="llama9")
        with self.assertRaisesRegex(ValueError, "BlockConfig.L: expected a positive sequence length"):
            ody.strategy_cost("ring", {"B": 1, "L": -8, "d": 64, "H": 8, "G": 8, "i": 96}, 2)
        with self.assertRaisesRegex(ValueError, "shape: expected keys"):
            ody.strategy_cost("ring", {"L": 64, "hidden": 64}, 2)
        with self.assertRaisesRegex(ValueError, "strategy: expected one of"):
            ody.strategy_cost("rnig", {"B": 1, "L": 64, "d": 64, "H": 8, "G": 8, "i": 96}, 2)
        with self.assertRaisesRegex(ValueError, "topology: expected exactly one of"):
            ody.topology()


if __name__ == "__main__":
    sys.exit(unittest.main())
