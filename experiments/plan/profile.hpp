#pragma once
// What the cost model (model.hpp) knows about a cluster: the device's compute and memory,
// and the bandwidth and latency of the links a group of ranks can span: inside a node
// (NVLink / NVSwitch), across nodes (the NICs). Presets carry the public figures of
// ../shared/docs/hardware.md (dgx-a100, dgx-h100); a calibrated profile of this machine is
// not built yet (docs/plan.md, "What is not modelled").
#include <string>
#include <vector>

namespace ody::experiments::plan {

struct Device {
  std::string name;
  double peak_flops = 0;    // dense bf16, FLOP/s
  double gemm_eff = 0;      // fraction of peak the GEMMs reach
  double attn_fwd_eff = 0;  // attention forward, fraction of peak
  double attn_bwd_eff = 0;  // attention backward
  double memory_bytes = 0;  // HBM per device
};

// One kind of link: per rank, bus bandwidth (nccl-tests' busbw: bytes a rank sends over
// the time, which is what the strategies' traffic counters give) and the latency of one
// algorithm step.
struct Link {
  double collective_Bps = 0;  // ring all-gather, reduce-scatter, all-reduce
  double alltoall_Bps = 0;    // pairwise all-to-all
  double p2p_Bps = 0;         // one send/recv pair (ring attention's hops)
  double step_latency_s = 0;  // per algorithm step (ring: p-1 steps; all-reduce 2(p-1))
};

struct Cluster {
  std::string name;
  Device device;
  int nodes = 1, gpus_per_node = 8;
  Link intra, inter;  // a group inside one node; a group spanning nodes
  int world() const { return nodes * gpus_per_node; }
};

// "dgx-a100" or "dgx-h100" with `nodes` nodes; ody::Error naming the preset otherwise.
Cluster preset_cluster(const std::string& name, int nodes);
std::vector<std::string> preset_names();

}  // namespace ody::experiments::plan
