#include "topology/hwloc_loader.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>

#include <hwloc.h>
#include <hwloc/distances.h>

#if ODY_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#include "base/error.hpp"

namespace ody::topology {
namespace {

std::string this_host() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown-host";
  return buf;
}

[[noreturn]] void hwloc_failed(const char* call, const char* file, int line) {
  const int err = errno;
  throw Error(detail::cat("hwloc call ", call, " failed at ", file, ":", line, " on host ",
                          this_host(), ": ", err ? std::strerror(err) : "no errno"));
}

}  // namespace
}  // namespace ody::topology

// Every hwloc call goes through one of these: integer results < 0 and null pointers are
// failures, reported with the call text, file:line, host and errno.
#define ODY_HWLOC_INT(call)                                               \
  [&]() {                                                                 \
    errno = 0;                                                            \
    auto v_ = (call);                                                     \
    if (v_ < 0) ::ody::topology::hwloc_failed(#call, __FILE__, __LINE__); \
    return v_;                                                            \
  }()
#define ODY_HWLOC_CHECK(call) ((void)ODY_HWLOC_INT(call))
#define ODY_HWLOC_CHECK_PTR(call)                                                \
  [&]() {                                                                        \
    errno = 0;                                                                   \
    auto* p_ = (call);                                                           \
    if (p_ == nullptr) ::ody::topology::hwloc_failed(#call, __FILE__, __LINE__); \
    return p_;                                                                   \
  }()

namespace ody::topology {
namespace {

struct TopologyDeleter {
  void operator()(hwloc_topology* t) const { hwloc_topology_destroy(t); }
};
using TopologyPtr = std::unique_ptr<hwloc_topology, TopologyDeleter>;

struct BitmapDeleter {
  void operator()(hwloc_bitmap_s* b) const { hwloc_bitmap_free(b); }
};
using BitmapPtr = std::unique_ptr<hwloc_bitmap_s, BitmapDeleter>;

// All I/O kept: the PCI bridges are what tells PIX from PXB from PHB, and the NVLink
// matrix is dropped together with the PCI/OS devices under the default filter.
TopologyPtr open_topology(const std::string* xml_path) {
  hwloc_topology_t raw = nullptr;
  ODY_HWLOC_CHECK(hwloc_topology_init(&raw));
  TopologyPtr topo(raw);
  if (xml_path) {
    errno = 0;
    if (hwloc_topology_set_xml(raw, xml_path->c_str()) < 0)
      throw Error("hwloc xml", "a readable hwloc 2.x XML file",
                  detail::cat("'", *xml_path, "' rejected by hwloc_topology_set_xml (",
                              errno ? std::strerror(errno) : "parse error", ")"));
  }
  ODY_HWLOC_CHECK(hwloc_topology_set_io_types_filter(raw, HWLOC_TYPE_FILTER_KEEP_ALL));
  errno = 0;
  if (hwloc_topology_load(raw) < 0) {
    if (xml_path)
      throw Error(
          "hwloc xml", "an hwloc XML file this hwloc (2.x) can import",
          detail::cat("'", *xml_path, "' failed in hwloc_topology_load (",
                      errno ? std::strerror(errno) : "XML component discovery failed", ")"));
    hwloc_failed("hwloc_topology_load(raw)", __FILE__, __LINE__);
  }
  return topo;
}

bool is_host_bridge(hwloc_obj_t o) {
  return o->type == HWLOC_OBJ_BRIDGE && o->attr->bridge.upstream_type == HWLOC_OBJ_BRIDGE_HOST;
}
bool is_io(hwloc_obj_t o) {
  return o->type == HWLOC_OBJ_BRIDGE || o->type == HWLOC_OBJ_PCI_DEVICE ||
         o->type == HWLOC_OBJ_OS_DEVICE;
}

std::string bus_id_of(hwloc_obj_t pci) {
  char buf[32];
  const auto& a = pci->attr->pcidev;
  std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", unsigned(a.domain), unsigned(a.bus),
                unsigned(a.dev), unsigned(a.func));
  return buf;
}

// NUMA node (OS index) of an I/O object: the one node under its CPU-side ancestor, or -1
// when that ancestor spans several nodes.
int numa_of(hwloc_topology_t topo, hwloc_obj_t o) {
  hwloc_obj_t anc = ODY_HWLOC_CHECK_PTR(hwloc_get_non_io_ancestor_obj(topo, o));
  if (!anc->nodeset || hwloc_bitmap_weight(anc->nodeset) != 1) return -1;
  return hwloc_bitmap_first(anc->nodeset);
}

// The NCCL path class between two PCI devices, from their lowest common ancestor.
Link pci_link(hwloc_topology_t topo, hwloc_obj_t a, hwloc_obj_t b) {
  if (a == b) return {LinkClass::Loc, false};
  std::vector<hwloc_obj_t> up_a;
  for (hwloc_obj_t o = a; o; o = o->parent) up_a.push_back(o);
  int depth_b = 0;
  hwloc_obj_t common = b;
  while (common && std::find(up_a.begin(), up_a.end(), common) == up_a.end()) {
    common = common->parent;
    ++depth_b;
  }
  if (!common) return {LinkClass::System, false};
  const int depth_a = static_cast<int>(std::find(up_a.begin(), up_a.end(), common) - up_a.begin());
  if (is_io(common)) {
    if (is_host_bridge(common)) return {LinkClass::HostBridge, false};
    // Below a PCI bridge. One switch is an upstream port whose downstream ports hold the
    // devices: at most two levels from each device to the meeting point. Deeper means the
    // path crosses several switches (PXB).
    return {LinkClass::PCIeSwitch, depth_a > 2 || depth_b > 2};
  }
  // Different host bridges: through the CPU of one NUMA node (PHB) or across NUMA nodes.
  hwloc_obj_t na = ODY_HWLOC_CHECK_PTR(hwloc_get_non_io_ancestor_obj(topo, a));
  hwloc_obj_t nb = ODY_HWLOC_CHECK_PTR(hwloc_get_non_io_ancestor_obj(topo, b));
  if (na == nb || (na->nodeset && nb->nodeset && hwloc_bitmap_isequal(na->nodeset, nb->nodeset)))
    return {LinkClass::HostBridge, false};
  return {LinkClass::System, false};
}

hwloc_obj_t pci_parent(hwloc_obj_t o) {
  for (; o; o = o->parent)
    if (o->type == HWLOC_OBJ_PCI_DEVICE) return o;
  return nullptr;
}

// NVIDIA display/3D controllers (class 0x03xx). A function whose vendor the file leaves
// unset (0 or ffff) counts by its class alone, the way NCCL (and the NCCL reader) count GPUs.
bool is_gpu(hwloc_obj_t pci) {
  const auto& a = pci->attr->pcidev;
  const bool vendor_unknown = a.vendor_id == 0 || a.vendor_id == 0xffff;
  return (a.vendor_id == 0x10de || vendor_unknown) && (a.class_id >> 8) == 0x03;
}
bool is_nvswitch(hwloc_obj_t pci) {
  const auto& a = pci->attr->pcidev;
  return (pci->subtype && std::strcmp(pci->subtype, "NVSwitch") == 0) ||
         (a.vendor_id == 0x10de && a.class_id == 0x0680);
}

std::string read_first_line(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::string line;
  if (in) std::getline(in, line);
  return line;
}

// Link speed of a local NIC in Gb/s, 0 when the system does not say.
double local_speed_gbps(const Nic& nic) {
  namespace fs = std::filesystem;
  double best = 0.0;
  std::error_code ec;
  if (nic.kind == NicKind::OpenFabrics) {
    const fs::path ports = fs::path("/sys/class/infiniband") / nic.name / "ports";
    if (fs::is_directory(ports, ec)) {
      for (const auto& port : fs::directory_iterator(ports, ec)) {
        // "100 Gb/sec (4X EDR)"
        const std::string rate = read_first_line(port.path() / "rate");
        best = std::max(best, std::strtod(rate.c_str(), nullptr));
      }
    }
  }
  if (best <= 0 && !nic.netdev.empty()) {
    // Mb/s; -1 or unreadable (virtual interfaces) when unknown.
    const std::string mbps = read_first_line(fs::path("/sys/class/net") / nic.netdev / "speed");
    const double v = std::strtod(mbps.c_str(), nullptr);
    if (v > 0) best = v / 1000.0;
  }
  return best;
}

Node build_node(hwloc_topology_t topo, std::string source, bool local) {
  Node n;
  n.source = std::move(source);
  hwloc_obj_t root = ODY_HWLOC_CHECK_PTR(hwloc_get_root_obj(topo));
  const char* host = hwloc_obj_get_info_by_name(root, "HostName");
  n.host = local ? this_host() : (host ? host : "");
  n.packages = ODY_HWLOC_INT(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE));
  n.cores = ODY_HWLOC_INT(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE));
  n.pus = ODY_HWLOC_INT(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU));
  const int numa_count = ODY_HWLOC_INT(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE));
  for (int i = 0; i < numa_count; ++i) {
    hwloc_obj_t o = ODY_HWLOC_CHECK_PTR(hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, i));
    NumaNode nn;
    nn.os_index = static_cast<int>(o->os_index);
    nn.memory_bytes = o->attr ? o->attr->numanode.local_memory : 0;
    nn.pus = o->cpuset ? hwloc_bitmap_weight(o->cpuset) : 0;
    // No Package above the node (memory attached to the whole machine) is an answer, not
    // a failure: the package stays unknown.
    hwloc_obj_t package = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_PACKAGE, o);
    nn.package = package ? static_cast<int>(package->logical_index) : -1;
    for (int c = 0; c < n.cores; ++c) {
      hwloc_obj_t core = ODY_HWLOC_CHECK_PTR(hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, c));
      if (o->cpuset && hwloc_bitmap_intersects(core->cpuset, o->cpuset)) ++nn.cores;
    }
    n.numa.push_back(nn);
  }

  // GPUs, NVSwitches and NICs in PCI order.
  std::vector<hwloc_obj_t> gpu_objs, nic_objs;
  for (hwloc_obj_t pci = hwloc_get_next_pcidev(topo, nullptr); pci;
       pci = hwloc_get_next_pcidev(topo, pci)) {
    if (is_nvswitch(pci)) {
      ++n.nvswitches;
      continue;
    }
    if (is_gpu(pci)) {
      Gpu g;
      g.bus_id = bus_id_of(pci);
      g.numa = numa_of(topo, pci);
      const char* model = hwloc_obj_get_info_by_name(pci, "PCIDevice");
      char ids[16];
      std::snprintf(ids, sizeof ids, "%04x:%04x", unsigned(pci->attr->pcidev.vendor_id),
                    unsigned(pci->attr->pcidev.device_id));
      g.model = model ? model : ids;
      n.gpus.push_back(g);
      gpu_objs.push_back(pci);
      continue;
    }
    Nic nic;
    bool has_net = false;
    for (hwloc_obj_t c = pci->io_first_child; c; c = c->next_sibling) {
      if (c->type != HWLOC_OBJ_OS_DEVICE) continue;
      if (c->attr->osdev.type == HWLOC_OBJ_OSDEV_OPENFABRICS) {
        if (nic.kind != NicKind::OpenFabrics) nic.name = c->name;
        nic.kind = NicKind::OpenFabrics;
        has_net = true;
      } else if (c->attr->osdev.type == HWLOC_OBJ_OSDEV_NETWORK) {
        if (nic.netdev.empty()) nic.netdev = c->name;
        has_net = true;
      }
    }
    if (!has_net) continue;
    if (nic.name.empty()) nic.name = nic.netdev;
    nic.bus_id = bus_id_of(pci);
    nic.numa = numa_of(topo, pci);
    if (local) nic.speed_gbps = local_speed_gbps(nic);
    n.nics.push_back(nic);
    nic_objs.push_back(pci);
  }

  const int g = n.gpu_count(), k = n.nic_count();
  n.gpu_gpu.assign(g, std::vector<Link>(g));
  n.gpu_nic.assign(g, std::vector<Link>(k));
  for (int a = 0; a < g; ++a) {
    for (int b = 0; b < g; ++b) n.gpu_gpu[a][b] = pci_link(topo, gpu_objs[a], gpu_objs[b]);
    for (int b = 0; b < k; ++b) n.gpu_nic[a][b] = pci_link(topo, gpu_objs[a], nic_objs[b]);
  }

  // NVLink: hwloc's matrix (MB/s) may be heterogeneous: GPUs (as PCI or OS devices) plus
  // NVSwitches or CPU NVLink ports. GPU pair bandwidth = direct links + for each switch
  // the narrower of the two GPU-switch links (traffic through a switch is limited by the
  // links on both sides).
  unsigned nr = 1;
  hwloc_distances_s* dist = nullptr;
  ODY_HWLOC_CHECK(hwloc_distances_get_by_name(topo, "NVLinkBandwidth", &nr, &dist, 0));
  if (nr >= 1 && dist) {
    const unsigned m = dist->nbobjs;
    std::vector<int> gpu_of(m, -1);
    for (unsigned i = 0; i < m; ++i) {
      hwloc_obj_t p = pci_parent(dist->objs[i]);
      const auto it = std::find(gpu_objs.begin(), gpu_objs.end(), p);
      if (p && it != gpu_objs.end()) gpu_of[i] = static_cast<int>(it - gpu_objs.begin());
    }
    n.nvlink_GBps.assign(g, std::vector<double>(g, 0.0));
    for (unsigned i = 0; i < m; ++i) {
      if (gpu_of[i] < 0) continue;
      for (unsigned j = 0; j < m; ++j) {
        if (gpu_of[j] < 0 || i == j) continue;
        double mbps = static_cast<double>(dist->values[i * m + j]);
        for (unsigned s = 0; s < m; ++s)
          if (gpu_of[s] < 0)
            mbps += static_cast<double>(std::min(dist->values[i * m + s], dist->values[s * m + j]));
        n.nvlink_GBps[gpu_of[i]][gpu_of[j]] += mbps / 1000.0;
      }
    }
    hwloc_distances_release(topo, dist);
  }
  apply_nvlink(n);
  n.validate("hwloc topology " + n.source);
  return n;
}

Binding binding_of_this_process(hwloc_topology_t topo) {
  Binding b;
  BitmapPtr set(ODY_HWLOC_CHECK_PTR(hwloc_bitmap_alloc()));
  errno = 0;
  if (hwloc_get_cpubind(topo, set.get(), HWLOC_CPUBIND_PROCESS) < 0) {
    // Some containers forbid the query; report "whole machine" rather than fail.
    ODY_HWLOC_CHECK(hwloc_bitmap_copy(set.get(), hwloc_topology_get_topology_cpuset(topo)));
  }
  const hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(topo);
  b.whole_machine = hwloc_bitmap_isincluded(all, set.get());
  for (int pu = hwloc_bitmap_first(set.get()); pu >= 0; pu = hwloc_bitmap_next(set.get(), pu))
    b.pus.push_back(pu);
  const int cores = ODY_HWLOC_INT(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE));
  for (int c = 0; c < cores; ++c) {
    hwloc_obj_t core = ODY_HWLOC_CHECK_PTR(hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, c));
    if (hwloc_bitmap_intersects(core->cpuset, set.get())) b.cores.push_back(c);
  }
  const int numa = ODY_HWLOC_INT(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE));
  for (int i = 0; i < numa; ++i) {
    hwloc_obj_t o = ODY_HWLOC_CHECK_PTR(hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, i));
    if (o->cpuset && hwloc_bitmap_intersects(o->cpuset, set.get()))
      b.numa.push_back(static_cast<int>(o->os_index));
  }
  return b;
}

void match_cuda_devices(Node& n) {
#if ODY_HAVE_CUDA
  int count = 0;
  // No driver or no device is a normal state here (CPU-only machines): GPUs then keep
  // cuda_device = -1 instead of failing detection.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();
    return;
  }
  for (int d = 0; d < count; ++d) {
    char buf[64] = {0};
    if (cudaDeviceGetPCIBusId(buf, sizeof buf, d) != cudaSuccess) continue;
    const std::string id = normalize_bus_id(buf);
    for (Gpu& g : n.gpus)
      if (g.bus_id == id) g.cuda_device = d;
  }
#else
  (void)n;
#endif
}

}  // namespace

LocalView detect_local() {
  TopologyPtr topo = open_topology(nullptr);
  LocalView v;
  v.node = build_node(topo.get(), "local", true);
  match_cuda_devices(v.node);
  v.binding = binding_of_this_process(topo.get());
  return v;
}

Node load_hwloc_xml(const std::string& path) {
  ODY_REQUIRE(std::filesystem::is_regular_file(path), "hwloc xml", "an existing file", "'", path,
              "'");
  TopologyPtr topo = open_topology(&path);
  return build_node(topo.get(), "hwloc-xml:" + std::filesystem::path(path).filename().string(),
                    false);
}

}  // namespace ody::topology
