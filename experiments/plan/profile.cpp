#include "experiments/plan/profile.hpp"

#include "base/error.hpp"

namespace ody::experiments::plan {

std::vector<std::string> preset_names() { return {"dgx-a100", "dgx-h100"}; }

// The figures of ../shared/docs/hardware.md. Where it gives none, the choice is said here.
Cluster preset_cluster(const std::string& name, int nodes) {
  ODY_REQUIRE(nodes >= 1, "--nodes", "at least 1 node", nodes);
  Cluster c;
  c.name = name;
  c.nodes = nodes;
  c.gpus_per_node = 8;
  if (name == "dgx-a100") {
    // A100 SXM4 80GB: 312 TFLOP/s bf16; GEMM 0.75, FlashAttention-2 forward 0.65-0.73
    // (0.69), backward 0.5-0.6 (0.55).
    c.device = {"A100-SXM4-80GB", 312e12, 0.75, 0.69, 0.55, 80e9};
    // One node: all-reduce busbw about 230 GB/s; a pair on direct links about 208. All-to-all
    // inside the NVSwitch node: taken as the all-reduce figure (no published number here).
    // 8-10 us a step inside a node.
    c.intra = {230e9, 230e9, 208e9, 9e-6};
    // Across nodes: 8 HDR NICs of 25 GB/s. Ring collectives reach about the sum of a node's
    // NICs (measured 86-96 GB/s with 4 NICs: 0.9 of 100), all-to-all about one NIC per GPU
    // (24 GB/s), a ring hop one NIC (25 GB/s, 0.96 of it); about 20 us a step.
    c.inter = {0.9 * 8 * 25e9, 24e9, 0.96 * 25e9, 20e-6};
  } else if (name == "dgx-h100") {
    // H100 SXM5 80GB: 989 TFLOP/s bf16; GEMM 0.7; FlashAttention-2 about 0.35 (FA3 would be
    // 0.6-0.75: not assumed).
    c.device = {"H100-SXM5-80GB", 989e12, 0.7, 0.35, 0.35, 80e9};
    // One node: ring all-reduce about 370 GB/s (480 with NVLS, not assumed); all-to-all and
    // a pair taken as that figure.
    c.intra = {370e9, 370e9, 370e9, 9e-6};
    // 8 NDR NICs of 50 GB/s; all-to-all 46-49 GB/s per GPU (47).
    c.inter = {0.9 * 8 * 50e9, 47e9, 0.96 * 50e9, 20e-6};
  } else {
    std::string names;
    for (const auto& n : preset_names()) names += (names.empty() ? "" : ", ") + n;
    throw Error("--preset", "one of " + names, "'" + name + "'");
  }
  return c;
}

}  // namespace ody::experiments::plan
