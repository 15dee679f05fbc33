#pragma once
// One machine as plain data: CPU counts, NUMA nodes, GPUs, NICs and the GPU-GPU and
// GPU-NIC link matrices. Produced by the loaders (hwloc, NCCL XML, presets); consumed by
// the cluster view, placement and tools. Nothing here talks to hardware or to other ranks.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "topology/link.hpp"

namespace ody::topology {

struct NumaNode {
  int os_index = 0;  // the number the OS uses (numactl, /sys/devices/system/node/nodeN)
  int cores = 0;     // cores whose PUs lie in this node (0 when the source does not say)
  int pus = 0;
  std::uint64_t memory_bytes = 0;  // 0 when unknown
  int package = -1;                // index of the package (socket) holding it; -1 unknown

  friend bool operator==(const NumaNode&, const NumaNode&) = default;
};

struct Gpu {
  std::string bus_id;    // normalised "0000:07:00.0"
  int numa = -1;         // OS index of the NUMA node it is attached to; -1 unknown
  std::string model;     // "Tesla V100-SXM3-32GB" or "10de:1db8"
  int sm = 0;            // compute capability x10 when the source says (NCCL XML), else 0
  int cuda_device = -1;  // CUDA ordinal matched by bus id (local detection with CUDA only)

  friend bool operator==(const Gpu&, const Gpu&) = default;
};

enum class NicKind { OpenFabrics, Ethernet };  // RDMA-capable (IB, RoCE, EFA) vs plain

struct Nic {
  std::string name;    // OpenFabrics device ("mlx5_0") or, failing that, the netdev ("eth0")
  std::string netdev;  // the kernel network interface on the same PCI function, if any
  NicKind kind = NicKind::Ethernet;
  std::string bus_id;  // "" for devices without PCI locality
  int numa = -1;
  double speed_gbps = 0.0;  // link speed in Gb/s (bits); 0 = not known

  friend bool operator==(const Nic&, const Nic&) = default;
};

struct Node {
  std::string host;
  std::string source;  // where it came from: "local", "hwloc-xml:<file>", "preset:dgx-a100", ...
  int packages = 0;
  std::vector<NumaNode> numa;
  int cores = 0;  // 0 = not described by the source (NCCL XML)
  int pus = 0;
  std::vector<Gpu> gpus;
  std::vector<Nic> nics;
  int nvswitches = 0;  // NVSwitch PCI devices seen (they say NVLink exists even without a matrix)
  // [gpus][gpus]; diagonal LOC. NVL where nvlink_GBps > 0, else the PCI path class.
  std::vector<std::vector<Link>> gpu_gpu;
  // [gpus][nics]: the PCI path class (never NVL, never LOC).
  std::vector<std::vector<Link>> gpu_nic;
  // [gpus][gpus]: NVLink bandwidth per direction in GB/s between two GPUs, directly or
  // through NVSwitches; empty when the source has no NVLink information.
  std::vector<std::vector<double>> nvlink_GBps;

  int numa_count() const { return static_cast<int>(numa.size()); }
  int gpu_count() const { return static_cast<int>(gpus.size()); }
  int nic_count() const { return static_cast<int>(nics.size()); }
  int package_of_numa(int numa_os) const;  // NumaNode::package of that node; -1 unknown
  double nvlink(int a, int b) const;       // 0 when none or unknown
  // Index of the NIC closest to GPU `gpu`: best link class, OpenFabrics before Ethernet;
  // among those tied, one on the GPU's package, then on its NUMA node, then the one the
  // fewest lower-numbered GPUs took (rails), then the lowest index. So GPU k of a DGX gets
  // NIC k, and GPUs whose NICs are all SYS stay on their own socket. -1 when no NIC.
  int nearest_nic(int gpu) const;
  // Nearest NIC for a CPU rank on NUMA node `numa_os` (-1 unknown).
  int nearest_nic_for_numa(int numa_os, int rail_hint) const;
  // Connected components of the NVLink graph: domain id per GPU (GPUs without NVLink get
  // their own domain).
  std::vector<int> nvlink_domains() const;
  // Throws ody::Error when the matrices do not match the device lists.
  void validate(const std::string& where) const;

  friend bool operator==(const Node&, const Node&) = default;
};

// Where a process may run: its CPU binding mapped onto the machine.
struct Binding {
  std::vector<int> pus;       // OS indices of the PUs in the binding
  std::vector<int> cores;     // logical indices of the cores it touches
  std::vector<int> numa;      // OS indices of the NUMA nodes it touches
  bool whole_machine = true;  // not bound (or bound to everything)

  friend bool operator==(const Binding&, const Binding&) = default;
};

// Canonical PCI bus id "dddd:bb:dd.f" (lower-case hex, 4-digit domain) from any of
// "0000:07:00.0", "00000000:07:00.0" (CUDA/NVML) or "07:00.0". Throws on malformed input.
std::string normalize_bus_id(const std::string& text);

// Fills gpu_gpu from PCI classes already in place plus nvlink_GBps: a pair with NVLink
// bandwidth becomes NVL. Loaders call this last.
void apply_nvlink(Node& node);

std::string to_string(NicKind kind);
NicKind parse_nic_kind(const std::string& text);

void to_json(nlohmann::json& j, const NumaNode& n);
void from_json(const nlohmann::json& j, NumaNode& n);
void to_json(nlohmann::json& j, const Gpu& g);
void from_json(const nlohmann::json& j, Gpu& g);
void to_json(nlohmann::json& j, const Nic& n);
void from_json(const nlohmann::json& j, Nic& n);
void to_json(nlohmann::json& j, const Node& n);
void to_json(nlohmann::json& j, const Binding& b);
void from_json(const nlohmann::json& j, Binding& b);
void from_json(const nlohmann::json& j, Node& n);

}  // namespace ody::topology
