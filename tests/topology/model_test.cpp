// Presets, JSON round trips, cluster specs, rank records, local detection and the NCCL
// NVLink model.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "topology/cluster.hpp"
#include "topology/hwloc_loader.hpp"
#include "topology/nccl_xml.hpp"
#include "topology/presets.hpp"
#include "topology/subgroups.hpp"

namespace tp = ody::topology;
using nlohmann::json;

namespace {
std::string data(const std::string& file) {
  return std::string(ODY_TOPOLOGY_DATA_DIR) + "/" + file;
}

// Two packages of two NUMA nodes each (SNC2 / NPS2). GPUs 0-3 under PCIe switches on NUMA
// 0 (package 0), GPUs 4-7 on NUMA 2 (package 1); four HCAs straight off host bridges, two
// on NUMA 1 (package 0) and two on NUMA 3 (package 1). No NIC shares a switch with a GPU
// and none is on a GPU's NUMA node, so every GPU-NIC pair is SYS (as hwloc classes
// different NUMA nodes) and the link class ties all four NICs for every GPU.
tp::Node two_package_sys_nics() {
  tp::Node n;
  n.host = "snc2";
  n.packages = 2;
  n.cores = 8;
  n.pus = 8;
  n.numa = {{0, 2, 2, 0, 0}, {1, 2, 2, 0, 0}, {2, 2, 2, 0, 1}, {3, 2, 2, 0, 1}};
  const char* gpu_bus[] = {"0000:10:00.0", "0000:11:00.0", "0000:18:00.0", "0000:19:00.0",
                           "0000:90:00.0", "0000:91:00.0", "0000:98:00.0", "0000:99:00.0"};
  for (int g = 0; g < 8; ++g) n.gpus.push_back(tp::Gpu{gpu_bus[g], g < 4 ? 0 : 2, "", 0, -1});
  const char* nic_bus[] = {"0000:40:00.0", "0000:41:00.0", "0000:c0:00.0", "0000:c1:00.0"};
  for (int k = 0; k < 4; ++k) {
    tp::Nic nic;
    nic.name = "mlx5_" + std::to_string(k);
    nic.kind = tp::NicKind::OpenFabrics;
    nic.bus_id = nic_bus[k];
    nic.numa = k < 2 ? 1 : 3;
    n.nics.push_back(nic);
  }
  n.gpu_gpu.assign(8, std::vector<tp::Link>(8));
  for (int a = 0; a < 8; ++a)
    for (int b = 0; b < 8; ++b)
      n.gpu_gpu[a][b] = {a == b           ? tp::LinkClass::Loc
                         : a / 2 == b / 2 ? tp::LinkClass::PCIeSwitch
                         : a / 4 == b / 4 ? tp::LinkClass::HostBridge
                                          : tp::LinkClass::System,
                         false};
  n.gpu_nic.assign(8, std::vector<tp::Link>(4, tp::Link{tp::LinkClass::System, false}));
  n.validate("two_package_sys_nics");
  return n;
}

std::filesystem::path temp_file(const std::string& name, const std::string& text) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("ody-topology-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto p = dir / name;
  std::ofstream(p) << text;
  return p;
}
}  // namespace

TEST(TopologyModel, BusIdNormalisation) {
  EXPECT_EQ(tp::normalize_bus_id("0000:07:00.0"), "0000:07:00.0");
  EXPECT_EQ(tp::normalize_bus_id("00000000:3B:00.0"), "0000:3b:00.0");  // CUDA / NVML form
  EXPECT_EQ(tp::normalize_bus_id("3b:00.1"), "0000:3b:00.1");
  EXPECT_THROW(tp::normalize_bus_id("3b-00"), ody::Error);
  EXPECT_THROW(tp::normalize_bus_id("0000:3b:00.9"), ody::Error);
}

TEST(TopologyModel, LinkAbbreviationsRoundTrip) {
  for (const char* s : {"LOC", "NVL", "PIX", "PXB", "PHB", "SYS", "NET"})
    EXPECT_EQ(tp::abbreviation(tp::parse_link(s, "test")), s);
  EXPECT_THROW(tp::parse_link("NV2", "test"), ody::Error);
  // Order: closer classes compare lower, so the span of a group is the maximum.
  EXPECT_LT(tp::LinkClass::Loc, tp::LinkClass::NVLink);
  EXPECT_LT(tp::LinkClass::NVLink, tp::LinkClass::PCIeSwitch);
  EXPECT_LT(tp::LinkClass::PCIeSwitch, tp::LinkClass::HostBridge);
  EXPECT_LT(tp::LinkClass::HostBridge, tp::LinkClass::System);
  EXPECT_LT(tp::LinkClass::System, tp::LinkClass::Network);
}

TEST(TopologyModel, EstimatesFollowHardwareFigures) {
  tp::EstimateContext gpu;
  gpu.gpu_endpoints = true;
  gpu.nvlink_GBps = 300.0;  // A100 NVLink3
  // nccl-tests reach about 230 GB/s on 8 x A100 of 300 raw.
  EXPECT_NEAR(tp::estimate(tp::LinkClass::NVLink, gpu).bandwidth_GBps, 230.0, 1e-9);
  EXPECT_DOUBLE_EQ(tp::estimate(tp::LinkClass::PCIeSwitch, gpu).bandwidth_GBps,
                   24.0);  // PCIe gen4, NCCL
  tp::EstimateContext net;
  EXPECT_DOUBLE_EQ(tp::estimate(tp::LinkClass::Network, net).bandwidth_GBps, 25.0);  // HDR default
  EXPECT_DOUBLE_EQ(tp::estimate(tp::LinkClass::Network, net).latency_us, 20.0);
  net.nic_GBps = 50.0;  // NDR
  EXPECT_DOUBLE_EQ(tp::estimate(tp::LinkClass::Network, net).bandwidth_GBps, 50.0);
  // Inside a node, bandwidth never increases with a worse class for GPU endpoints (the
  // network class is the NIC's speed, independent of this order).
  double prev = 1e30;
  for (int c = 1; c <= 4; ++c) {
    const double bw = tp::estimate(static_cast<tp::LinkClass>(c), gpu).bandwidth_GBps;
    EXPECT_LE(bw, prev) << "class " << c;
    prev = bw;
  }
}

TEST(TopologyModel, PresetsHaveHardwareFigures) {
  for (const std::string name : tp::preset_names()) {
    const tp::Node n = tp::preset(name);
    EXPECT_EQ(n.packages, 2) << name;
    ASSERT_EQ(n.gpu_count(), 8) << name;
    ASSERT_EQ(n.nic_count(), 8) << name;
    const double nvl = name == "dgx-a100" ? 300.0 : 450.0;  // 12 x 25 GB/s; 18 links = 450
    const double nic = name == "dgx-a100" ? 200.0 : 400.0;  // HDR, NDR
    for (int a = 0; a < 8; ++a) {
      for (int b = 0; b < 8; ++b) {
        EXPECT_EQ(n.gpu_gpu[a][b].cls, a == b ? tp::LinkClass::Loc : tp::LinkClass::NVLink);
        EXPECT_DOUBLE_EQ(n.nvlink(a, b), a == b ? 0.0 : nvl);
      }
      EXPECT_EQ(n.nearest_nic(a), a) << name << ": GPU k uses rail k";
      EXPECT_EQ(n.nics[a].speed_gbps, nic);
      EXPECT_EQ(n.nics[a].numa, n.gpus[a].numa);
    }
  }
  EXPECT_EQ(tp::preset("dgx-a100").numa_count(), 8);  // NPS4
  EXPECT_EQ(tp::preset("dgx-a100").cores, 128);
  EXPECT_EQ(tp::preset("dgx-h100").cores, 112);
  EXPECT_EQ(tp::abbreviation(tp::preset("dgx-a100").gpu_nic[0][0]), "PXB");
  EXPECT_EQ(tp::abbreviation(tp::preset("dgx-h100").gpu_nic[0][0]), "PIX");
  try {
    tp::preset("dgx-b200");
    FAIL();
  } catch (const ody::Error& e) {
    EXPECT_NE(std::string(e.what()).find("dgx-a100"), std::string::npos);
  }
}

TEST(TopologyModel, NodeJsonRoundTrip) {
  std::vector<tp::Node> nodes = {tp::preset("dgx-a100"), tp::preset("dgx-h100"),
                                 tp::load_hwloc_xml(data("hwloc-nvidiaDGX2.xml")),
                                 tp::load_hwloc_xml(data("mpibind-coral-lassen.xml")),
                                 tp::detect_local().node};
  if (tp::nccl_topo_supported()) {
    nodes.push_back(tp::load_nccl_topo(data("nccl-p4d-24xl-topo.xml")));
    nodes.push_back(tp::load_nccl_topo(data("ody-nccl-classonly-ib-topo.xml")));
  }
  for (const tp::Node& n : nodes) {
    const json j = n;
    for (const char* key : {"packages", "numa_nodes", "cores", "pus", "gpus", "nics", "links"})
      EXPECT_TRUE(j.contains(key)) << n.source << " lacks " << key;
    const tp::Node back = json::parse(j.dump()).get<tp::Node>();
    EXPECT_EQ(back, n) << n.source;
  }
}

TEST(TopologyModel, ClusterSpecLoadsAndRoundTrips) {
  const auto spec = temp_file(
      "spec.json",
      json{
          {"network", {{"nic_gbps", 400}, {"latency_us", 5}}},
          {"nodes",
           json::array({
               json{{"host", "a"}, {"preset", "dgx-h100"}},
               json{{"host", "b"}, {"topology", data("awsofinccl-p4d-topology.xml")}, {"ranks", 4}},
               json{{"host", "c"}, {"preset", "dgx-a100"}, {"count", 2}},
           })}}
          .dump());
  const tp::Cluster c = tp::load_cluster_spec(spec.string());
  ASSERT_EQ(c.node_count(), 4);
  EXPECT_EQ(c.nodes[0].host, "a");
  EXPECT_EQ(c.nodes[2].host, "c-0");
  EXPECT_EQ(c.nodes[3].host, "c-1");
  EXPECT_EQ(c.world_size(), 8 + 4 + 8 + 8);
  EXPECT_EQ(c.ranks_on(1), (std::vector<int>{8, 9, 10, 11}));
  EXPECT_EQ(c.network.nic_gbps, 400);
  EXPECT_EQ(c.link(0, 1).cls, tp::LinkClass::NVLink);
  EXPECT_EQ(c.link(0, 8).cls, tp::LinkClass::Network);
  EXPECT_DOUBLE_EQ(c.estimate(0, 8).bandwidth_GBps, 50.0);  // 400 Gb/s from the spec
  EXPECT_DOUBLE_EQ(c.estimate(0, 8).latency_us, 5.0);
  EXPECT_EQ(c.link(8, 9).cls, tp::LinkClass::HostBridge);  // p4d hwloc: same host bridge

  const json j = c;
  const tp::Cluster back = json::parse(j.dump()).get<tp::Cluster>();
  EXPECT_EQ(back, c);
  // A serialised cluster is itself a valid spec.
  const auto saved = temp_file("saved.json", j.dump());
  EXPECT_EQ(tp::load_cluster_spec(saved.string()), c);

  // Relative paths resolve against the spec file's folder.
  std::filesystem::copy_file(data("mpibind-coral-lassen.xml"), spec.parent_path() / "lassen.xml",
                             std::filesystem::copy_options::overwrite_existing);
  const auto rel =
      temp_file("rel.json", R"({"nodes": [{"topology": "lassen.xml", "format": "hwloc"}]})");
  EXPECT_EQ(tp::load_cluster_spec(rel.string()).nodes[0].gpu_count(), 4);

  const auto bad = temp_file("bad.json", R"({"nodes": [{"host": "x"}]})");
  EXPECT_THROW(tp::load_cluster_spec(bad.string()), ody::Error);
  const auto dup = temp_file(
      "dup.json",
      R"({"nodes": [{"host": "x", "preset": "dgx-a100"}, {"host": "x", "preset": "dgx-a100"}]})");
  EXPECT_THROW(tp::load_cluster_spec(dup.string()), ody::Error);
}

// Counts NVIDIA display/3D controllers in sysfs: an independent view of what hwloc reports.
int sysfs_nvidia_gpus() {
  int n = 0;
  std::error_code ec;
  for (const auto& d : std::filesystem::directory_iterator("/sys/bus/pci/devices", ec)) {
    std::ifstream v(d.path() / "vendor"), c(d.path() / "class");
    std::string vendor, klass;
    v >> vendor;
    c >> klass;
    if (vendor == "0x10de" && klass.rfind("0x03", 0) == 0) ++n;
  }
  return n;
}

TEST(TopologyModel, LocalDetectionIsSane) {
  const tp::LocalView v = tp::detect_local();
  const tp::Node& n = v.node;
  EXPECT_GE(n.packages, 1);
  EXPECT_GE(n.numa_count(), 1);
  EXPECT_GE(n.cores, 1);
  EXPECT_GE(n.pus, n.cores);
  EXPECT_EQ(n.gpu_count(), sysfs_nvidia_gpus());  // 0 on the CPU-only build machines
  EXPECT_FALSE(n.host.empty());
  int numa_pus = 0;
  for (const auto& nn : n.numa) numa_pus += nn.pus;
  EXPECT_EQ(numa_pus, n.pus);
  // This process runs somewhere: its binding is non-empty and inside the machine.
  ASSERT_FALSE(v.binding.pus.empty());
  EXPECT_FALSE(v.binding.cores.empty());
  EXPECT_FALSE(v.binding.numa.empty());
  EXPECT_LE(static_cast<int>(v.binding.cores.size()), n.cores);
  for (const auto& nic : n.nics) EXPECT_GE(nic.speed_gbps, 0.0);
}

TEST(TopologyModel, RankRecordsBuildTheClusterView) {
  const tp::RankRecord mine = tp::local_rank_record(0, -1);
  const tp::RankRecord back = tp::deserialize_rank_record(tp::serialize(mine));
  EXPECT_EQ(back, mine);
  std::vector<std::uint8_t> junk = {'{', 'x'};
  EXPECT_THROW(tp::deserialize_rank_record(junk), ody::Error);

  // Four ranks on two hosts, numbered round-robin (mpirun --map-by node).
  std::vector<tp::RankRecord> recs;
  const tp::Node a100 = tp::preset("dgx-a100");
  for (int r = 0; r < 4; ++r) {
    tp::RankRecord rec;
    rec.rank = r;
    rec.host = r % 2 ? "h1" : "h0";
    rec.gpu = r / 2;
    rec.node = a100;
    recs.push_back(rec);
  }
  std::swap(recs[0], recs[3]);  // order of arrival does not matter
  const tp::Cluster c = tp::from_rank_records(recs);
  ASSERT_EQ(c.node_count(), 2);
  EXPECT_EQ(c.nodes[0].host, "h0");
  EXPECT_EQ(c.ranks_on(0), (std::vector<int>{0, 2}));
  EXPECT_EQ(c.ranks[2].local_rank, 1);
  EXPECT_EQ(c.ranks[2].gpu, 1);
  EXPECT_EQ(c.ranks[2].nic, 1);
  EXPECT_EQ(c.ranks[2].numa, 3);
  EXPECT_EQ(c.link(0, 2).cls, tp::LinkClass::NVLink);
  EXPECT_EQ(c.link(0, 1).cls, tp::LinkClass::Network);
  EXPECT_NEAR(c.estimate(0, 2).bandwidth_GBps, 230.0, 1e-9);
  EXPECT_DOUBLE_EQ(c.estimate(0, 1).bandwidth_GBps, 25.0);  // HDR NICs, 200 Gb/s

  recs.pop_back();  // a rank missing
  EXPECT_THROW(tp::from_rank_records(recs), ody::Error);
}

TEST(TopologyModel, NcclTopologyWithNvlinkAndNets) {
  if (!tp::nccl_topo_supported()) GTEST_SKIP() << "built without libxml2";
  // A two-GPU slice in the shape NCCL dumps (NCCL_TOPO_DUMP_FILE): NVSwitch links, a NIC
  // with a declared speed, and a nested PCIe switch for the second GPU.
  const std::string xml = R"(<system version="1">
  <cpu numaid="0" affinity="0000ffff" arch="x86_64" vendor="AuthenticAMD">
    <pci busid="0000:01:00.0" class="0x060400" vendor="0x1000" device="0xc010" link_speed="16 GT/s" link_width="16">
      <pci busid="0000:07:00.0" class="0x030200" vendor="0x10de" device="0x20b0" link_speed="16 GT/s" link_width="16">
        <gpu dev="0" sm="80" rank="0" gdr="1">
          <nvlink target="0000:c5:00.0" count="12" tclass="0x068000"/>
        </gpu>
      </pci>
      <pci busid="0000:0c:00.0" class="0x020700" vendor="0x15b3" device="0x101b" link_speed="16 GT/s" link_width="16">
        <nic><net name="mlx5_0" dev="0" speed="200000" port="1" gdr="1"/></nic>
      </pci>
      <pci busid="0000:02:00.0" class="0x060400" vendor="0x1000" device="0xc010">
        <pci busid="0000:0f:00.0" class="0x030200" vendor="0x10de" device="0x20b0">
          <gpu dev="1" sm="80" rank="1" gdr="1"><nvlink target="0000:c5:00.0" count="12" tclass="0x068000"/></gpu>
        </pci>
      </pci>
    </pci>
  </cpu>
</system>)";
  const tp::Node n = tp::parse_nccl_topo(xml, "slice");
  ASSERT_EQ(n.gpu_count(), 2);
  EXPECT_EQ(n.gpus[0].sm, 80);
  ASSERT_EQ(n.nic_count(), 1);
  EXPECT_EQ(n.nics[0].name, "mlx5_0");
  EXPECT_DOUBLE_EQ(n.nics[0].speed_gbps, 200.0);
  EXPECT_EQ(n.pus, 16);
  // 12 links at NCCL's 20 GB/s per sm_80 link through the NVSwitch fabric.
  EXPECT_DOUBLE_EQ(n.nvlink(0, 1), 12 * 20.0);
  EXPECT_EQ(n.gpu_gpu[0][1].cls, tp::LinkClass::NVLink);
  EXPECT_EQ(tp::abbreviation(n.gpu_nic[0][0]), "PIX");  // both directly under switch 01:00.0
  EXPECT_EQ(tp::abbreviation(n.gpu_nic[1][0]), "PXB");  // GPU1 is one switch further down
  EXPECT_THROW(tp::parse_nccl_topo("<topology/>", "wrong-root"), ody::Error);
  EXPECT_THROW(tp::parse_nccl_topo("<system", "broken"), ody::Error);
}

TEST(TopologyModel, Subgroups) {
  const tp::Cluster c = tp::uniform_cluster(tp::preset("dgx-a100"), 2, 8);
  const tp::Subgroups s = tp::subgroups(c);
  EXPECT_EQ(s.node, (std::vector<std::vector<int>>{{0, 1, 2, 3, 4, 5, 6, 7},
                                                   {8, 9, 10, 11, 12, 13, 14, 15}}));
  EXPECT_EQ(s.node_leaders, (std::vector<int>{0, 8}));
  EXPECT_EQ(s.nvlink, s.node);  // NVSwitch: one domain per node
  ASSERT_EQ(s.rail.size(), 8u);
  EXPECT_EQ(s.rail[3], (std::vector<int>{3, 11}));
  ASSERT_EQ(s.numa.size(), 8u);  // GPU pairs share a NUMA node (NPS4)
  EXPECT_EQ(s.numa[0], (std::vector<int>{0, 1}));

  // CPU-only node with 2 NUMA nodes, 4 ranks: blocks of 2 per NUMA node, no NVLink.
  tp::Node cpu;
  cpu.host = "cpu";
  cpu.packages = 2;
  cpu.cores = 8;
  cpu.pus = 8;
  cpu.numa = {{0, 4, 4, 0}, {1, 4, 4, 0}};
  const tp::Subgroups t = tp::subgroups(tp::uniform_cluster(cpu, 1, 4));
  EXPECT_EQ(t.numa, (std::vector<std::vector<int>>{{0, 1}, {2, 3}}));
  EXPECT_EQ(t.nvlink, (std::vector<std::vector<int>>{{0}, {1}, {2}, {3}}));
}

TEST(TopologyModel, NearestNicStaysOnPackageAndSpreadsOverRails) {
  const tp::Node n = two_package_sys_nics();
  std::vector<int> chosen, uses(n.nic_count(), 0);
  for (int g = 0; g < n.gpu_count(); ++g) {
    const int k = n.nearest_nic(g);
    ASSERT_GE(k, 0);
    EXPECT_EQ(n.package_of_numa(n.nics[k].numa), n.package_of_numa(n.gpus[g].numa))
        << "GPU" << g << " sent to " << n.nics[k].name << " on the other package";
    chosen.push_back(k);
    ++uses[k];
  }
  // Each package's GPUs alternate over its two NICs: two GPUs per NIC, none idle.
  EXPECT_EQ(chosen, (std::vector<int>{0, 1, 0, 1, 2, 3, 2, 3}));
  EXPECT_EQ(uses, (std::vector<int>{2, 2, 2, 2}));

  // Same package, same link class: the NIC on the GPU's own NUMA node wins over a lower index.
  tp::Node vm;
  vm.packages = 1;
  vm.numa = {{0, 0, 0, 0, 0}, {1, 0, 0, 0, 0}};
  vm.gpus = {tp::Gpu{"0000:10:00.0", 1, "", 0, -1}};
  vm.nics.resize(2);
  vm.nics[0].numa = 0;
  vm.nics[1].numa = 1;
  vm.gpu_gpu = {{tp::Link{tp::LinkClass::Loc, false}}};
  vm.gpu_nic = {
      {tp::Link{tp::LinkClass::HostBridge, false}, tp::Link{tp::LinkClass::HostBridge, false}}};
  EXPECT_EQ(vm.nearest_nic(0), 1);
}

// Rails are NIC indices across nodes: ranks on NIC k of each node, one per node, even when
// the hosts number their GPUs differently.
TEST(TopologyModel, RailsFollowTheChosenNics) {
  const tp::Node n = two_package_sys_nics();
  const tp::Cluster c = tp::uniform_cluster(n, 2, 8);
  const tp::Subgroups s = tp::subgroups(c);
  ASSERT_EQ(s.rail.size(), 8u);
  for (const auto& rail : s.rail) {
    ASSERT_EQ(rail.size(), 2u);
    EXPECT_NE(c.ranks[rail[0]].node, c.ranks[rail[1]].node);
    EXPECT_EQ(c.ranks[rail[0]].nic, c.ranks[rail[1]].nic);
  }
  EXPECT_EQ(s.rail[2], (std::vector<int>{2, 10}));  // GPU2 of each node, both on NIC 0

  // h0: rank 0 drives GPU0 (NIC 0), rank 1 GPU4 (NIC 2); h1 the other way round.
  std::vector<tp::RankRecord> recs;
  const int gpu_of[] = {0, 4, 4, 0};
  for (int r = 0; r < 4; ++r) {
    tp::RankRecord rec;
    rec.rank = r;
    rec.host = r < 2 ? "h0" : "h1";
    rec.gpu = gpu_of[r];
    rec.node = n;
    recs.push_back(rec);
  }
  const tp::Cluster d = tp::from_rank_records(recs);
  EXPECT_EQ(d.ranks[0].nic, 0);
  EXPECT_EQ(d.ranks[1].nic, 2);
  EXPECT_EQ(tp::subgroups(d).rail, (std::vector<std::vector<int>>{{0, 3}, {1, 2}}));
}
