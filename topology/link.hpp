#pragma once
// Link classes between two devices (or two ranks) and a bandwidth/latency estimate per
// class. The classes follow NCCL's path types, ordered from closest to farthest, so
// "worse" is simply "larger": the class a group spans is the maximum over its pairs.
#include <string>
#include <string_view>

namespace ody::topology {

enum class LinkClass : int {
  Loc = 0,         // same device (NCCL LOC)
  NVLink = 1,      // direct NVLink or through NVSwitch (NVL)
  PCIeSwitch = 2,  // through PCIe switches only (PIX: one switch, PXB: several)
  HostBridge = 3,  // through a PCIe host bridge / the CPU of one NUMA node (PHB)
  System = 4,      // across the SMP interconnect between NUMA nodes or packages (SYS)
  Network = 5,     // between machines (NET)
};

// A link class plus the PIX/PXB distinction, which only matters for printing and for
// matching NCCL's tables. Invariant: multi_switch implies cls == PCIeSwitch.
struct Link {
  LinkClass cls = LinkClass::System;
  bool multi_switch = false;  // PXB rather than PIX

  friend bool operator==(const Link&, const Link&) = default;
};

// NCCL-style abbreviation: LOC, NVL, PIX, PXB, PHB, SYS, NET.
std::string_view abbreviation(Link link);
std::string_view abbreviation(LinkClass cls);
// Inverse of abbreviation(Link); throws ody::Error naming `where` for anything else.
Link parse_link(std::string_view text, const std::string& where);
// Human-readable name used in explanation lines ("NVLink", "PCIe switch", ...).
std::string_view describe(LinkClass cls);

// Per-direction bandwidth (GB/s, 1e9 bytes/s) and latency (microseconds) of one step of a
// collective over a link. These are priors from public figures (docs/topology.md and
// shared hardware.md); a calibration run replaces them.
struct LinkEstimate {
  double bandwidth_GBps = 0.0;
  double latency_us = 0.0;
};

// What the estimate depends on besides the class.
struct EstimateContext {
  bool gpu_endpoints = false;       // both ends are GPUs (else CPU ranks sharing host memory)
  double nvlink_GBps = 0.0;         // raw NVLink bandwidth of the pair, when known
  double nic_GBps = 0.0;            // per-direction NIC bandwidth for Network, when known
  double network_latency_us = 0.0;  // from the cluster spec, when given
};

LinkEstimate estimate(LinkClass cls, const EstimateContext& ctx);

// Figures used by estimate() and the presets (hardware.md); named so tests and docs can
// cite them.
inline constexpr double kNvlinkEfficiency = 230.0 / 300.0;  // A100: 230 GB/s bus bw of 300 raw
inline constexpr double kPcieGen4NcclGBps = 24.0;           // NCCL's PCIe gen4 x16 figure
inline constexpr double kSmpInterconnectGBps = 10.0;  // NCCL's Skylake-class inter-socket figure
inline constexpr double kHostMemcpyGBps = 12.0;       // one-core memcpy on this machine kind
inline constexpr double kHbmA100GBps = 2040.0;
inline constexpr double kHdrGBps = 25.0;               // InfiniBand HDR 200 Gb/s
inline constexpr double kIntraNodeLatencyUs = 9.0;     // 8-10 us per collective in a node
inline constexpr double kInterNodeLatencyUs = 20.0;    // about 20 us across nodes
inline constexpr double kSharedMemoryLatencyUs = 1.0;  // MPI shared-memory step, CPU ranks

}  // namespace ody::topology
