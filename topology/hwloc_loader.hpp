#pragma once
// Machine descriptions from hwloc: this machine (with this process's CPU binding) or an
// hwloc XML export of another machine (`lstopo --of xml`, hwloc 2.x format).
//
// GPUs are PCI devices with vendor 0x10de and class 0x03xx (Debian's hwloc has no CUDA or
// NVML plugin, and exported files name GPU OS devices differently); NICs are the PCI
// functions carrying network / OpenFabrics OS devices. Link classes come from the common
// ancestor of two devices in the PCI tree; NVLink bandwidth from the "NVLinkBandwidth"
// distance matrix when the file has one.
#include <string>

#include "topology/node.hpp"

namespace ody::topology {

struct LocalView {
  Node node;
  Binding binding;  // this process's binding at the time of the call
};

// Detects this machine. With CUDA compiled in, GPUs are matched to CUDA ordinals by PCI
// bus id (cudaDeviceGetPCIBusId); without a driver they keep cuda_device = -1. NIC speeds
// come from /sys/class/net/<if>/speed and /sys/class/infiniband/<dev>/ports/*/rate.
LocalView detect_local();

// Loads an hwloc XML file. Throws ody::Error naming the file when hwloc rejects it.
Node load_hwloc_xml(const std::string& path);

}  // namespace ody::topology
