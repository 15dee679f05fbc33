#include "topology/presets.hpp"

#include "base/error.hpp"

namespace ody::topology {
namespace {

struct Slot {
  const char* gpu_bus;
  int numa;
  int pcie_switch;  // GPUs and NICs sharing a switch id sit behind one PCIe switch
};
struct NicSlot {
  const char* name;
  const char* bus;
  int numa;
  int pcie_switch;
};

// Builds the link matrices from switch membership and NUMA/package placement:
// same switch -> PIX (or PXB when `nested_switch`), same NUMA -> PHB, else SYS; every GPU
// pair is NVLink through NVSwitch at `nvlink_GBps`.
Node build(const std::string& name, int packages, int numa_nodes, int cores, int smt,
           std::uint64_t memory_bytes, const std::vector<Slot>& gpus, const char* model, int sm,
           const std::vector<NicSlot>& nics, double nic_gbps, int nvswitches, double nvlink_GBps,
           bool nested_switch) {
  Node n;
  n.host = name;
  n.source = "preset:" + name;
  n.packages = packages;
  n.cores = cores;
  n.pus = cores * smt;
  // NUMA nodes split the packages evenly, in order (NPS4: nodes 0-3 on package 0).
  for (int i = 0; i < numa_nodes; ++i)
    n.numa.push_back(NumaNode{i, cores / numa_nodes, cores * smt / numa_nodes,
                              memory_bytes / numa_nodes, i * packages / numa_nodes});
  for (const Slot& s : gpus) n.gpus.push_back(Gpu{s.gpu_bus, s.numa, model, sm, -1});
  for (const NicSlot& s : nics) {
    Nic nic;
    nic.name = s.name;
    nic.kind = NicKind::OpenFabrics;
    nic.bus_id = s.bus;
    nic.numa = s.numa;
    nic.speed_gbps = nic_gbps;
    n.nics.push_back(nic);
  }
  n.nvswitches = nvswitches;
  auto pci = [&](int sw_a, int numa_a, int sw_b, int numa_b) -> Link {
    if (sw_a == sw_b) return {LinkClass::PCIeSwitch, nested_switch};
    if (numa_a == numa_b) return {LinkClass::HostBridge, false};
    return {LinkClass::System, false};
  };
  const int g = n.gpu_count(), k = n.nic_count();
  n.gpu_gpu.assign(g, std::vector<Link>(g));
  n.gpu_nic.assign(g, std::vector<Link>(k));
  n.nvlink_GBps.assign(g, std::vector<double>(g, 0.0));
  for (int a = 0; a < g; ++a) {
    for (int b = 0; b < g; ++b) {
      n.gpu_gpu[a][b] = pci(gpus[a].pcie_switch, gpus[a].numa, gpus[b].pcie_switch, gpus[b].numa);
      if (a != b) n.nvlink_GBps[a][b] = nvlink_GBps;
    }
    for (int b = 0; b < k; ++b)
      n.gpu_nic[a][b] = pci(gpus[a].pcie_switch, gpus[a].numa, nics[b].pcie_switch, nics[b].numa);
  }
  apply_nvlink(n);
  n.validate("preset " + name);
  return n;
}

constexpr std::uint64_t kGiB = 1ull << 30;

Node dgx_a100() {
  // NPS4: NUMA 0-3 on package 0, 4-7 on package 1; GPU pairs on NUMA 3, 1, 7, 5.
  const std::vector<Slot> gpus = {{"0000:07:00.0", 3, 0}, {"0000:0f:00.0", 3, 0},
                                  {"0000:47:00.0", 1, 1}, {"0000:4e:00.0", 1, 1},
                                  {"0000:87:00.0", 7, 2}, {"0000:90:00.0", 7, 2},
                                  {"0000:b7:00.0", 5, 3}, {"0000:bd:00.0", 5, 3}};
  const std::vector<NicSlot> nics = {
      {"mlx5_0", "0000:0c:00.0", 3, 0}, {"mlx5_1", "0000:12:00.0", 3, 0},
      {"mlx5_2", "0000:4b:00.0", 1, 1}, {"mlx5_3", "0000:54:00.0", 1, 1},
      {"mlx5_4", "0000:8d:00.0", 7, 2}, {"mlx5_5", "0000:94:00.0", 7, 2},
      {"mlx5_6", "0000:ba:00.0", 5, 3}, {"mlx5_7", "0000:cc:00.0", 5, 3}};
  // NVLink3: 12 links x 25 GB/s per direction = 300 GB/s per GPU (hardware.md).
  return build("dgx-a100", 2, 8, 128, 2, 1024 * kGiB, gpus, "A100-SXM4-80GB", 80, nics, 200.0, 6,
               300.0, /*nested_switch=*/true);
}

Node dgx_h100() {
  const std::vector<Slot> gpus = {{"0000:18:00.0", 0, 0}, {"0000:2a:00.0", 0, 1},
                                  {"0000:3a:00.0", 0, 2}, {"0000:5d:00.0", 0, 3},
                                  {"0000:9a:00.0", 1, 4}, {"0000:ab:00.0", 1, 5},
                                  {"0000:ba:00.0", 1, 6}, {"0000:db:00.0", 1, 7}};
  const std::vector<NicSlot> nics = {
      {"mlx5_0", "0000:1a:00.0", 0, 0}, {"mlx5_1", "0000:2c:00.0", 0, 1},
      {"mlx5_2", "0000:3c:00.0", 0, 2}, {"mlx5_3", "0000:5f:00.0", 0, 3},
      {"mlx5_4", "0000:9c:00.0", 1, 4}, {"mlx5_5", "0000:ad:00.0", 1, 5},
      {"mlx5_6", "0000:bc:00.0", 1, 6}, {"mlx5_7", "0000:dd:00.0", 1, 7}};
  // NVLink4: 18 links, 450 GB/s per direction per GPU (hardware.md).
  return build("dgx-h100", 2, 2, 112, 2, 2048 * kGiB, gpus, "H100-SXM5-80GB", 90, nics, 400.0, 4,
               450.0, /*nested_switch=*/false);
}

}  // namespace

std::vector<std::string> preset_names() { return {"dgx-a100", "dgx-h100"}; }

Node preset(const std::string& name) {
  if (name == "dgx-a100") return dgx_a100();
  if (name == "dgx-h100") return dgx_h100();
  throw Error("preset", "one of dgx-a100, dgx-h100", "'" + name + "'");
}

}  // namespace ody::topology
