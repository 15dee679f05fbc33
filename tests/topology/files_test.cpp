// The real machines' topology files (tests/topology/data, copied from the shared folder):
// counts, devices, affinities, link classes and NVLink bandwidth against the facts
// recorded in data/README.md (hwloc 2.9 with all I/O kept).
//
// NIC counting rule: one NIC per PCI function carrying a network or OpenFabrics OS
// device (the README lists OS devices, so "ib0 + mlx5_0" on one function is one NIC).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "base/error.hpp"
#include "topology/cluster.hpp"
#include "topology/hwloc_loader.hpp"
#include "topology/nccl_xml.hpp"

namespace tp = ody::topology;

namespace {

std::string data(const std::string& file) {
  return std::string(ODY_TOPOLOGY_DATA_DIR) + "/" + file;
}

int count_numa(const tp::Node& n, int os) {
  int c = 0;
  for (const auto& g : n.gpus) c += g.numa == os;
  return c;
}

void expect_no_nvlink(const tp::Node& n) {
  EXPECT_TRUE(n.nvlink_GBps.empty());
  for (int a = 0; a < n.gpu_count(); ++a)
    for (int b = 0; b < n.gpu_count(); ++b)
      EXPECT_NE(n.gpu_gpu[a][b].cls, tp::LinkClass::NVLink) << "GPU" << a << "-GPU" << b;
}

}  // namespace

TEST(TopologyFiles, FixtureCopiesMatchSharedFolder) {
  const std::filesystem::path shared = ODY_SHARED_TOPOLOGIES_DIR;
  if (!std::filesystem::is_directory(shared))
    GTEST_SKIP() << "no shared folder at " << shared << " (fresh clone)";
  int compared = 0;
  for (const auto& e : std::filesystem::directory_iterator(shared)) {
    if (e.path().extension() != ".xml") continue;
    std::ifstream a(e.path(), std::ios::binary),
        b(data(e.path().filename().string()), std::ios::binary);
    ASSERT_TRUE(b.good()) << e.path().filename() << " missing from tests/topology/data";
    const std::string sa{std::istreambuf_iterator<char>(a), {}},
        sb{std::istreambuf_iterator<char>(b), {}};
    EXPECT_EQ(sa, sb) << e.path().filename() << " differs from the shared copy";
    ++compared;
  }
  EXPECT_EQ(compared, 5);
}

TEST(TopologyFiles, NvidiaDgx2) {
  const tp::Node n = tp::load_hwloc_xml(data("hwloc-nvidiaDGX2.xml"));
  EXPECT_EQ(n.packages, 2);
  ASSERT_EQ(n.numa_count(), 2);
  EXPECT_EQ(n.numa[0].os_index, 0);
  EXPECT_EQ(n.numa[1].os_index, 1);
  EXPECT_EQ(n.cores, 4);  // the upstream CPU section is trimmed
  EXPECT_EQ(n.pus, 4);
  ASSERT_EQ(n.gpu_count(), 16);
  EXPECT_EQ(count_numa(n, 0), 8);
  EXPECT_EQ(count_numa(n, 1), 8);
  EXPECT_EQ(n.gpus[0].bus_id, "0000:34:00.0");
  EXPECT_EQ(n.gpus[0].model, "10de:1db8");  // no PCIDevice name in the file
  EXPECT_EQ(n.nic_count(), 0);
  EXPECT_EQ(n.nvswitches, 12);  // 11 of class 0x0680 + 0000:66:00.0 known only by subtype
  // NVLinkBandwidth: each GPU has 25000 MB/s to each of the 6 NVSwitches of its baseboard
  // and 0 to every GPU. Through a switch a pair gets the narrower of its two switch links,
  // so a pair on one baseboard has 6 x 25 GB/s = 150 GB/s; the file has no link between
  // the baseboards' switches, so pairs across baseboards have none.
  ASSERT_EQ(n.nvlink_GBps.size(), 16u);
  for (int a = 0; a < 16; ++a)
    for (int b = 0; b < 16; ++b) {
      const bool same_board = (a < 8) == (b < 8);
      const double want = (a != b && same_board) ? 6 * 25.0 : 0.0;
      EXPECT_DOUBLE_EQ(n.nvlink(a, b), want) << "GPU" << a << "-GPU" << b;
      const tp::LinkClass cls = a == b       ? tp::LinkClass::Loc
                                : same_board ? tp::LinkClass::NVLink
                                             : tp::LinkClass::System;
      EXPECT_EQ(n.gpu_gpu[a][b].cls, cls) << "GPU" << a << "-GPU" << b;
    }
  const std::vector<int> dom = n.nvlink_domains();
  for (int g = 0; g < 16; ++g) EXPECT_EQ(dom[g], g < 8 ? dom[0] : dom[8]);
  EXPECT_NE(dom[0], dom[8]);
}

TEST(TopologyFiles, Supermicro32em64t) {
  const tp::Node n = tp::load_hwloc_xml(data("hwloc-32em64t-2n8c2t-pci-normalio.xml"));
  EXPECT_EQ(n.host, "conan");
  EXPECT_EQ(n.packages, 2);
  EXPECT_EQ(n.numa_count(), 2);
  EXPECT_EQ(n.cores, 16);
  EXPECT_EQ(n.pus, 32);
  ASSERT_EQ(n.gpu_count(), 3);
  EXPECT_EQ(n.gpus[0].bus_id, "0000:03:00.0");
  EXPECT_EQ(n.gpus[0].numa, 0);
  EXPECT_EQ(n.gpus[1].bus_id, "0000:83:00.0");
  EXPECT_EQ(n.gpus[1].numa, 1);
  EXPECT_EQ(n.gpus[2].bus_id, "0000:84:00.0");
  EXPECT_EQ(n.gpus[2].numa, 1);
  // 84:00.1 is an AMD VGA function (1002:6798), not an NVIDIA GPU.
  ASSERT_EQ(n.nic_count(), 3);
  EXPECT_EQ(n.nics[0].name, "eth0");
  EXPECT_EQ(n.nics[0].bus_id, "0000:81:00.0");
  EXPECT_EQ(n.nics[1].name, "eth1");
  EXPECT_EQ(n.nics[1].bus_id, "0000:81:00.1");
  EXPECT_EQ(n.nics[2].name, "mlx5_0");
  EXPECT_EQ(n.nics[2].netdev, "ib0");
  EXPECT_EQ(n.nics[2].kind, tp::NicKind::OpenFabrics);
  EXPECT_EQ(n.nics[2].bus_id, "0000:04:00.0");
  for (const auto& nic : n.nics) {
    EXPECT_EQ(nic.numa, 1) << nic.name;
    EXPECT_EQ(nic.speed_gbps, 0.0) << nic.name;  // another machine's file: no speed
  }
  expect_no_nvlink(n);
  // GPU0 on package 0, the others on package 1 under one host bridge.
  EXPECT_EQ(n.gpu_gpu[0][1].cls, tp::LinkClass::System);
  EXPECT_EQ(n.gpu_gpu[1][2].cls, tp::LinkClass::HostBridge);
  EXPECT_EQ(n.nearest_nic(2), 2);  // the IB function sits under GPU2's bridge (PIX)
  EXPECT_EQ(n.gpu_nic[2][2].cls, tp::LinkClass::PCIeSwitch);
}

TEST(TopologyFiles, LassenPower9) {
  const tp::Node n = tp::load_hwloc_xml(data("mpibind-coral-lassen.xml"));
  EXPECT_EQ(n.packages, 2);
  ASSERT_EQ(n.numa_count(), 2);
  EXPECT_EQ(n.numa[0].os_index, 0);
  EXPECT_EQ(n.numa[1].os_index, 8);
  EXPECT_EQ(n.cores, 40);
  EXPECT_EQ(n.pus, 160);
  ASSERT_EQ(n.gpu_count(), 4);
  const char* bus[] = {"0004:04:00.0", "0004:05:00.0", "0035:03:00.0", "0035:04:00.0"};
  const int numa[] = {0, 0, 8, 8};
  for (int g = 0; g < 4; ++g) {
    EXPECT_EQ(n.gpus[g].bus_id, bus[g]);
    EXPECT_EQ(n.gpus[g].numa, numa[g]);
  }
  ASSERT_EQ(n.nic_count(), 6);
  int rdma = 0, eth = 0;
  for (const auto& nic : n.nics) {
    if (nic.kind == tp::NicKind::OpenFabrics) {
      ++rdma;
      EXPECT_EQ(nic.netdev.substr(0, 3), "hsi") << nic.name;
      EXPECT_EQ(nic.numa, nic.bus_id.substr(0, 4) == "0003" ? 0 : 8) << nic.name;
    } else {
      ++eth;
      EXPECT_EQ(nic.name.substr(0, 8), "enP5p1s0") << nic.name;
      EXPECT_EQ(nic.numa, 0);
    }
  }
  EXPECT_EQ(rdma, 4);
  EXPECT_EQ(eth, 2);
  expect_no_nvlink(n);
  EXPECT_EQ(n.gpu_gpu[0][1].cls, tp::LinkClass::PCIeSwitch);  // one switch, two ports
  EXPECT_FALSE(n.gpu_gpu[0][1].multi_switch);
  EXPECT_EQ(n.gpu_gpu[0][2].cls, tp::LinkClass::System);
  // Nearest NIC: an OpenFabrics one on the GPU's own package.
  EXPECT_EQ(n.nics[n.nearest_nic(0)].name, "mlx5_0");
  EXPECT_EQ(n.nics[n.nearest_nic(1)].name, "mlx5_1");
  EXPECT_EQ(n.nics[n.nearest_nic(2)].name, "mlx5_2");
  EXPECT_EQ(n.nics[n.nearest_nic(3)].name, "mlx5_3");
}

TEST(TopologyFiles, AwsP4dHwloc) {
  const tp::Node n = tp::load_hwloc_xml(data("awsofinccl-p4d-topology.xml"));
  EXPECT_EQ(n.packages, 2);
  EXPECT_EQ(n.numa_count(), 2);
  EXPECT_EQ(n.cores, 48);
  EXPECT_EQ(n.pus, 96);
  ASSERT_EQ(n.gpu_count(), 8);
  const char* bus[] = {"0000:10:1c.0", "0000:10:1d.0", "0000:20:1c.0", "0000:20:1d.0",
                       "0000:90:1c.0", "0000:90:1d.0", "0000:a0:1c.0", "0000:a0:1d.0"};
  for (int g = 0; g < 8; ++g) {
    EXPECT_EQ(n.gpus[g].bus_id, bus[g]);
    EXPECT_EQ(n.gpus[g].numa, g < 4 ? 0 : 1);
  }
  ASSERT_EQ(n.nic_count(), 8);
  std::vector<std::string> efa;
  for (const auto& nic : n.nics)
    if (nic.kind == tp::NicKind::OpenFabrics)
      efa.push_back(nic.name + "@" + nic.bus_id + "/" + std::to_string(nic.numa));
  const std::vector<std::string> want = {"rdmap16s27@0000:10:1b.0/0", "rdmap32s27@0000:20:1b.0/0",
                                         "rdmap144s27@0000:90:1b.0/1",
                                         "rdmap160s27@0000:a0:1b.0/1"};
  EXPECT_EQ(efa, want);
  EXPECT_EQ(n.nvswitches, 6);  // 10de:1af1 on bus 80
  expect_no_nvlink(n);         // the file has no NVLink matrix (no cuda/nvml OS devices)
  // Virtualised PCI: every device sits directly under its host bridge.
  EXPECT_EQ(n.gpu_gpu[0][1].cls, tp::LinkClass::HostBridge);
  EXPECT_EQ(n.gpu_gpu[0][2].cls, tp::LinkClass::HostBridge);  // other host bridge, same package
  EXPECT_EQ(n.gpu_gpu[0][4].cls, tp::LinkClass::System);
  EXPECT_EQ(n.nics[n.nearest_nic(0)].kind, tp::NicKind::OpenFabrics);
}

TEST(TopologyFiles, AwsP4dNcclTopology) {
  if (!tp::nccl_topo_supported()) GTEST_SKIP() << "built without libxml2";
  const tp::Node n = tp::load_nccl_topo(data("nccl-p4d-24xl-topo.xml"));
  EXPECT_EQ(n.packages, 2);
  ASSERT_EQ(n.numa_count(), 2);
  EXPECT_EQ(n.numa[0].pus, 48);
  EXPECT_EQ(n.numa[1].pus, 48);
  EXPECT_EQ(n.cores, 0);  // not described by the format
  EXPECT_EQ(n.pus, 96);
  ASSERT_EQ(n.gpu_count(), 8);
  for (int g = 0; g < 8; ++g) EXPECT_EQ(n.gpus[g].numa, g < 4 ? 0 : 1);
  ASSERT_EQ(n.nic_count(), 4);
  const char* nic_bus[] = {"0000:10:1b.0", "0000:20:1b.0", "0000:90:1b.0", "0000:a0:1b.0"};
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(n.nics[k].bus_id, nic_bus[k]);
    EXPECT_EQ(n.nics[k].numa, k < 2 ? 0 : 1);
    EXPECT_EQ(n.nics[k].kind, tp::NicKind::OpenFabrics);  // EFA, 1d0f:efa0
    EXPECT_EQ(n.nics[k].speed_gbps, 0.0);                 // no <net speed> in the file
  }
  expect_no_nvlink(n);
  // Two GPUs and one NIC behind each switch, two switches per CPU.
  for (int a = 0; a < 8; ++a) {
    for (int b = 0; b < 8; ++b) {
      const tp::LinkClass want = a == b           ? tp::LinkClass::Loc
                                 : a / 2 == b / 2 ? tp::LinkClass::PCIeSwitch
                                 : a / 4 == b / 4 ? tp::LinkClass::HostBridge
                                                  : tp::LinkClass::System;
      EXPECT_EQ(n.gpu_gpu[a][b].cls, want) << a << "," << b;
    }
    for (int k = 0; k < 4; ++k) {
      const tp::LinkClass want = a / 2 == k       ? tp::LinkClass::PCIeSwitch
                                 : a / 4 == k / 2 ? tp::LinkClass::HostBridge
                                                  : tp::LinkClass::System;
      EXPECT_EQ(n.gpu_nic[a][k].cls, want) << a << "," << k;
    }
    EXPECT_EQ(n.nearest_nic(a), a / 2);
  }
}

TEST(TopologyFiles, FormatAutoDetection) {
  EXPECT_EQ(tp::load_node_file(data("hwloc-nvidiaDGX2.xml")).gpu_count(), 16);
  if (tp::nccl_topo_supported())
    EXPECT_EQ(tp::load_node_file(data("nccl-p4d-24xl-topo.xml")).gpu_count(), 8);
  // hwloc refuses the NCCL format, and says which file.
  try {
    tp::load_hwloc_xml(data("nccl-p4d-24xl-topo.xml"));
    FAIL() << "expected an error";
  } catch (const ody::Error& e) {
    EXPECT_NE(std::string(e.what()).find("nccl-p4d-24xl-topo.xml"), std::string::npos) << e.what();
  }
  EXPECT_THROW(tp::load_hwloc_xml(data("does-not-exist.xml")), ody::Error);
}

// A cloud image's NCCL_TOPO_FILE (hand-written, data/README.md): GPUs and HCAs known only
// by PCI class. NCCL finds 8 GPUs and 8 InfiniBand NICs in it; so must the reader.
TEST(TopologyFiles, ClassOnlyNcclTopology) {
  if (!tp::nccl_topo_supported()) GTEST_SKIP() << "built without libxml2";
  const tp::Node n = tp::load_node_file(data("ody-nccl-classonly-ib-topo.xml"));
  EXPECT_EQ(n.packages, 4);
  ASSERT_EQ(n.numa_count(), 4);
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(n.numa[k].package, k);
    EXPECT_EQ(n.numa[k].pus, 16);
  }
  // 0x030200 and 0x030000 without vendor are GPUs; the ASPEED VGA (vendor 1a03) is not.
  ASSERT_EQ(n.gpu_count(), 8);
  const char* bus[] = {"0001:00:00.0", "0002:00:00.0", "0003:00:00.0", "0004:00:00.0",
                       "000b:00:00.0", "000c:00:00.0", "000d:00:00.0", "000e:00:00.0"};
  for (int g = 0; g < 8; ++g) {
    EXPECT_EQ(n.gpus[g].bus_id, bus[g]);
    EXPECT_EQ(n.gpus[g].numa, g / 2);
    EXPECT_EQ(n.gpus[g].model, "");  // the file gives no ids
  }
  // Class 0x0207 is InfiniBand (RDMA) even without a <nic> child; 0x0200 alone is Ethernet.
  ASSERT_EQ(n.nic_count(), 9);
  for (int k = 0; k < 8; ++k) {
    EXPECT_EQ(n.nics[k].bus_id, "010" + std::to_string(k + 1) + ":00:00.0");
    EXPECT_EQ(n.nics[k].kind, tp::NicKind::OpenFabrics) << n.nics[k].name;
    EXPECT_EQ(tp::to_string(n.nics[k].kind), "openfabrics");
    EXPECT_EQ(n.nics[k].numa, k / 2);
  }
  EXPECT_EQ(n.nics[8].bus_id, "0000:c1:00.0");
  EXPECT_EQ(n.nics[8].kind, tp::NicKind::Ethernet);
  EXPECT_EQ(n.nics[8].numa, 3);
  // Two GPUs and two HCAs per switch: GPU k takes HCA k.
  for (int g = 0; g < 8; ++g) {
    for (int k = 0; k < 8; ++k)
      EXPECT_EQ(n.gpu_nic[g][k].cls,
                g / 2 == k / 2 ? tp::LinkClass::PCIeSwitch : tp::LinkClass::System)
          << g << "," << k;
    EXPECT_EQ(n.nearest_nic(g), g);
  }
}
