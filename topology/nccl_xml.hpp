#pragma once
// Machine descriptions from an NCCL topology file (the format of NCCL_TOPO_FILE and
// NCCL_TOPO_DUMP_FILE): <system><cpu numaid affinity><pci busid class vendor>...
// <gpu sm><nvlink target count tclass/></gpu> ... <nic><net name speed/></nic></pci>...
//
// Counts: one package and one NUMA node per <cpu>; PUs from the affinity masks; cores are
// not described (0). Link classes follow NCCL: both devices directly under one <pci>
// switch -> PIX, under nested switches -> PXB, same <cpu> -> PHB, different <cpu> -> SYS;
// NVLink pairs -> NVL with NCCL's per-link bandwidth for the GPU's SM version.
#include <string>

#include "topology/node.hpp"

namespace ody::topology {

// False when the library was built without libxml2; the loaders then throw.
bool nccl_topo_supported();

Node load_nccl_topo(const std::string& path);
// Same, from text in memory; `name` labels errors and Node::source.
Node parse_nccl_topo(const std::string& xml_text, const std::string& name);

// NCCL's model of one NVLink's bandwidth (GB/s per direction) for an SM version x10
// (80 = A100): 18 (sm6x), 20 (sm7x, sm80), 12 (sm86/89), 20.6 (sm90), 40.1 (sm100).
double nccl_nvlink_GBps_per_link(int sm);

}  // namespace ody::topology
