#include "topology/link.hpp"

#include <algorithm>

#include "base/error.hpp"

namespace ody::topology {

std::string_view abbreviation(LinkClass cls) {
  switch (cls) {
    case LinkClass::Loc:
      return "LOC";
    case LinkClass::NVLink:
      return "NVL";
    case LinkClass::PCIeSwitch:
      return "PIX";
    case LinkClass::HostBridge:
      return "PHB";
    case LinkClass::System:
      return "SYS";
    case LinkClass::Network:
      return "NET";
  }
  return "???";
}

std::string_view abbreviation(Link link) {
  if (link.cls == LinkClass::PCIeSwitch && link.multi_switch) return "PXB";
  return abbreviation(link.cls);
}

Link parse_link(std::string_view text, const std::string& where) {
  if (text == "LOC") return {LinkClass::Loc, false};
  if (text == "NVL") return {LinkClass::NVLink, false};
  if (text == "PIX") return {LinkClass::PCIeSwitch, false};
  if (text == "PXB") return {LinkClass::PCIeSwitch, true};
  if (text == "PHB") return {LinkClass::HostBridge, false};
  if (text == "SYS") return {LinkClass::System, false};
  if (text == "NET") return {LinkClass::Network, false};
  throw Error(where, "one of LOC, NVL, PIX, PXB, PHB, SYS, NET", "'" + std::string(text) + "'");
}

std::string_view describe(LinkClass cls) {
  switch (cls) {
    case LinkClass::Loc:
      return "same device";
    case LinkClass::NVLink:
      return "NVLink";
    case LinkClass::PCIeSwitch:
      return "PCIe switch";
    case LinkClass::HostBridge:
      return "host bridge";
    case LinkClass::System:
      return "SMP interconnect";
    case LinkClass::Network:
      return "network";
  }
  return "unknown";
}

LinkEstimate estimate(LinkClass cls, const EstimateContext& ctx) {
  const double intra_lat = ctx.gpu_endpoints ? kIntraNodeLatencyUs : kSharedMemoryLatencyUs;
  switch (cls) {
    case LinkClass::Loc:
      // Same GPU: device memory; same CPU rank: a local copy.
      return {ctx.gpu_endpoints ? kHbmA100GBps : kHostMemcpyGBps, 0.0};
    case LinkClass::NVLink: {
      // Raw NVLink figure scaled by the fraction nccl-tests reaches on A100 (230 of 300).
      const double raw = ctx.nvlink_GBps > 0 ? ctx.nvlink_GBps : 300.0;
      return {raw * kNvlinkEfficiency, kIntraNodeLatencyUs};
    }
    case LinkClass::PCIeSwitch:
    case LinkClass::HostBridge:
      // GPUs: PCIe gen4 as NCCL models it. CPU ranks: shared memory, one core copying.
      return {ctx.gpu_endpoints ? kPcieGen4NcclGBps : kHostMemcpyGBps, intra_lat};
    case LinkClass::System:
      return {ctx.gpu_endpoints ? kSmpInterconnectGBps : kHostMemcpyGBps, intra_lat};
    case LinkClass::Network: {
      const double bw = ctx.nic_GBps > 0 ? ctx.nic_GBps : kHdrGBps;
      const double lat = ctx.network_latency_us > 0 ? ctx.network_latency_us : kInterNodeLatencyUs;
      return {bw, lat};
    }
  }
  return {};
}

}  // namespace ody::topology
