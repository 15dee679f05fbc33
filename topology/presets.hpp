#pragma once
// Built-in machine descriptions for machines we are not on, with the public figures of
// the shared hardware.md. Bus ids and NUMA affinities follow the vendors' published
// `nvidia-smi topo -m` layouts; they are illustrative where a site's BIOS renumbers.
#include <string>
#include <vector>

#include "topology/node.hpp"

namespace ody::topology {

// "dgx-a100": 2 x AMD EPYC 7742 (64 cores, SMT2) in NPS4 (8 NUMA nodes), 8 x A100-SXM4-80GB
//   all-to-all through 6 NVSwitches (NVLink3, 12 links x 25 GB/s = 300 GB/s per GPU),
//   4 PCIe switches each with 2 GPUs + 2 HDR NICs (200 Gb/s): GPU k <-> mlx5_k is PXB.
// "dgx-h100": 2 x Xeon Platinum 8480C (56 cores, SMT2), 2 NUMA nodes, 8 x H100-SXM5-80GB
//   through 4 NVSwitches (NVLink4, 18 links = 450 GB/s per GPU), 8 NDR NICs (400 Gb/s),
//   one per GPU behind the GPU's PCIe switch (PIX).
Node preset(const std::string& name);
std::vector<std::string> preset_names();

}  // namespace ody::topology
