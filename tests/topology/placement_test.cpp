// Mesh placement: heavy dimensions inside nodes, the ring across them, impossible meshes
// rejected with the rule named; backend scoring.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>

#include "base/error.hpp"
#include "support/error_of.hpp"
#include "topology/cluster.hpp"
#include "topology/placement.hpp"
#include "topology/presets.hpp"

namespace tp = ody::topology;
using Groups = std::vector<std::vector<int>>;

namespace {

// One CPU machine of 8 ranks (2 NUMA nodes) split into 2 virtual nodes of 4 ranks.
tp::Cluster virtual_2x4() {
  tp::Node cpu;
  cpu.host = "box";
  cpu.packages = 1;
  cpu.cores = 8;
  cpu.pus = 8;
  cpu.numa = {{0, 4, 4, 0}, {1, 4, 4, 0}};
  return tp::with_virtual_nodes(tp::uniform_cluster(cpu, 1, 8), 2);
}

using ody::test::error_of;

// The candidates as the built-in backends describe themselves (backends/*/register.cpp),
// listed nccl, ucx, mpi (ties keep the first).
tp::BackendCandidate nccl() { return {"nccl", {0, 0, 0, 0, 0, 0}, {10, 10, 8, 8, 8, 8}}; }
tp::BackendCandidate ucx() { return {"ucx", {3, 3, 3, 3, 3, 6}, {3, 3, 3, 3, 3, 6}}; }
tp::BackendCandidate mpi() { return {"mpi", {5, 5, 5, 5, 5, 4}, {2, 2, 2, 2, 2, 2}}; }

tp::BackendOptions mpi_only() {
  tp::BackendOptions o;
  o.candidates = {mpi()};
  return o;
}

tp::BackendOptions all_backends() {
  tp::BackendOptions o;
  o.candidates = {nccl(), ucx(), mpi()};
  return o;
}

}  // namespace

TEST(Placement, VirtualNodesSplitContiguousBlocks) {
  const tp::Cluster c = virtual_2x4();
  ASSERT_EQ(c.node_count(), 2);
  EXPECT_EQ(c.virtual_nodes, 2);
  EXPECT_EQ(c.ranks_on(0), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(c.ranks_on(1), (std::vector<int>{4, 5, 6, 7}));
  EXPECT_EQ(c.nodes[1].host, "box/v1");
  EXPECT_EQ(c.link(0, 1).cls, tp::LinkClass::HostBridge);  // same NUMA node
  EXPECT_EQ(c.link(0, 2).cls, tp::LinkClass::HostBridge);
  EXPECT_EQ(c.link(0, 3).cls, tp::LinkClass::HostBridge);
  EXPECT_EQ(c.link(0, 4).cls, tp::LinkClass::Network);  // pretend network
  EXPECT_NE(error_of([&] {
              tp::with_virtual_nodes(tp::uniform_cluster(c.nodes[0], 1, 8), 3);
            }).find("divides the world size 8"),
            std::string::npos);
  EXPECT_NE(error_of([&] { tp::with_virtual_nodes(c, 2); }).find("one real machine"),
            std::string::npos);
}

TEST(Placement, HeavyDimensionInsideNodesRingAcross) {
  const tp::Cluster c = virtual_2x4();
  for (const char* heavy : {"ulysses", "tp"}) {
    // Either order of the dimensions gives the same layout: heaviness decides.
    for (bool heavy_first : {true, false}) {
      std::vector<tp::MeshDim> mesh = {{heavy, 4}, {"ring", 2}};
      if (!heavy_first) std::swap(mesh[0], mesh[1]);
      const tp::Placement p = tp::place_mesh(c, mesh, mpi_only());
      ASSERT_EQ(p.dims.size(), 2u);
      const tp::DimPlacement& h = p.dims[heavy_first ? 0 : 1];
      const tp::DimPlacement& r = p.dims[heavy_first ? 1 : 0];
      EXPECT_EQ(h.name, heavy);
      EXPECT_EQ(h.groups, (Groups{{0, 1, 2, 3}, {4, 5, 6, 7}}));
      EXPECT_LT(h.span.cls, tp::LinkClass::Network);
      EXPECT_EQ(r.groups, (Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}}));
      EXPECT_EQ(r.span.cls, tp::LinkClass::Network);
      EXPECT_EQ(h.backend, "mpi");
      EXPECT_NE(h.explanation.find(std::string(heavy) +
                                   "=4: ranks {0-3},{4-7} inside node (shared memory"),
                std::string::npos)
          << h.explanation;
      EXPECT_NE(r.explanation.find("across (virtual) nodes"), std::string::npos) << r.explanation;
      EXPECT_GT(h.estimate.bandwidth_GBps, r.estimate.bandwidth_GBps * 0 + 0);  // both set
      // Coordinates agree with the groups.
      EXPECT_EQ(p.coords[5][heavy_first ? 0 : 1], 1);
      EXPECT_EQ(p.coords[5][heavy_first ? 1 : 0], 1);
    }
  }
}

TEST(Placement, HeavyDimensionLargerThanANodeIsFlagged) {
  const tp::Placement p = tp::place_mesh(virtual_2x4(), {{"ulysses", 8}}, mpi_only());
  EXPECT_EQ(p.dims[0].span.cls, tp::LinkClass::Network);
  EXPECT_NE(p.dims[0].explanation.find("warning: larger than the 4 ranks of a node"),
            std::string::npos)
      << p.dims[0].explanation;
}

TEST(Placement, RoundRobinRankNumberingStillKeepsGroupsInNodes) {
  std::vector<tp::RankRecord> recs;
  tp::Node cpu;
  cpu.packages = 1;
  cpu.cores = 4;
  cpu.pus = 4;
  cpu.numa = {{0, 4, 4, 0}};
  for (int r = 0; r < 8; ++r) recs.push_back(tp::RankRecord{r, r % 2 ? "b" : "a", -1, {}, cpu});
  const tp::Placement p =
      tp::place_mesh(tp::from_rank_records(recs), {{"ulysses", 4}, {"ring", 2}}, mpi_only());
  EXPECT_EQ(p.dims[0].groups, (Groups{{0, 2, 4, 6}, {1, 3, 5, 7}}));
  EXPECT_EQ(p.dims[0].span.cls, tp::LinkClass::HostBridge);
  EXPECT_EQ(p.dims[1].groups, (Groups{{0, 1}, {2, 3}, {4, 5}, {6, 7}}));
  EXPECT_EQ(p.dims[1].span.cls, tp::LinkClass::Network);
}

TEST(Placement, GpuClusterPicksNvlinkAndNccl) {
  const tp::Cluster c = tp::uniform_cluster(tp::preset("dgx-h100"), 2, 8);
  const tp::BackendOptions all = all_backends();
  const tp::Placement p = tp::place_mesh(c, tp::parse_mesh("tp=8,ring=2"), all);
  EXPECT_EQ(p.dims[0].span.cls, tp::LinkClass::NVLink);
  EXPECT_EQ(p.dims[0].backend, "nccl");
  // NVLink4 450 GB/s raw at the A100-measured efficiency.
  EXPECT_NEAR(p.dims[0].estimate.bandwidth_GBps, 450.0 * tp::kNvlinkEfficiency, 1e-9);
  EXPECT_EQ(p.dims[1].span.cls, tp::LinkClass::Network);
  EXPECT_EQ(p.dims[1].backend, "nccl");  // GPUs across nodes: NCCL over IB
  EXPECT_DOUBLE_EQ(p.dims[1].estimate.bandwidth_GBps, 400.0 / 8);  // NDR NIC
  const tp::Placement dp = tp::place_mesh(c, tp::parse_mesh("dp=2,ulysses=4,ring=2"), all);
  EXPECT_EQ(dp.dims[1].groups[0], (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(dp.dims[2].groups[0], (std::vector<int>{0, 4}));
  EXPECT_EQ(dp.dims[0].groups[0], (std::vector<int>{0, 8}));  // dp outermost
}

// strategies::Mesh semantics: dims inner first, coord[k] = (m / prod(size[0..k))) % size[k]
// for logical index m; rank_of_index[m] takes index m. Rebuild the groups that way.
TEST(Placement, MeshHookReproducesTheGroups) {
  const tp::Cluster c = tp::uniform_cluster(tp::preset("dgx-a100"), 2, 8);
  const tp::Placement p = tp::place_mesh(c, tp::parse_mesh("ring=2,tp=4,dp=2"), mpi_only());
  ASSERT_EQ(p.inner_first.size(), 3u);
  EXPECT_EQ(p.inner_first[0].name, "tp");
  EXPECT_EQ(p.inner_first[1].name, "ring");
  EXPECT_EQ(p.inner_first[2].name, "dp");
  for (const tp::DimPlacement& d : p.dims) {
    int k = 0;
    long long stride = 1;
    while (p.inner_first[k].name != d.name) stride *= p.inner_first[k++].size;
    Groups rebuilt;
    for (int m = 0; m < c.world_size(); ++m) {
      if ((m / stride) % d.size != 0) continue;
      std::vector<int> g;
      for (int i = 0; i < d.size; ++i) g.push_back(p.rank_of_index[m + i * stride]);
      std::sort(g.begin(), g.end());
      rebuilt.push_back(g);
    }
    std::sort(rebuilt.begin(), rebuilt.end());
    EXPECT_EQ(rebuilt, d.groups) << d.name;
  }
}

TEST(Placement, BackendScores) {
  const tp::BackendOptions all = all_backends();
  EXPECT_EQ(tp::choose_backend(tp::LinkClass::NVLink, true, all), "nccl");
  EXPECT_EQ(tp::choose_backend(tp::LinkClass::HostBridge, false, all), "mpi");  // CPU shared memory
  EXPECT_EQ(tp::choose_backend(tp::LinkClass::Network, false, all), "ucx");
  EXPECT_EQ(tp::choose_backend(tp::LinkClass::Network, false, mpi_only()), "mpi");
  tp::BackendOptions forced = all;
  forced.force = "ucx";
  EXPECT_EQ(tp::choose_backend(tp::LinkClass::NVLink, true, forced), "ucx");
  forced.force = "nccl";
  const std::string e =
      error_of([&] { tp::choose_backend(tp::LinkClass::HostBridge, false, forced); });
  EXPECT_NE(e.find("available for this group (ucx, mpi: a CPU group over PHB)"), std::string::npos)
      << e;
  // Per dimension: wins over force; a backend that scores 0 there is refused.
  forced.force = "mpi";
  forced.per_dim = {{"ring", "ucx"}};
  EXPECT_EQ(tp::choose_backend(tp::LinkClass::HostBridge, false, forced, "ring"), "ucx");
  EXPECT_EQ(tp::choose_backend(tp::LinkClass::HostBridge, false, forced, "ulysses"), "mpi");
  EXPECT_EQ(tp::backend_reason(tp::LinkClass::HostBridge, false, forced, "ring"),
            "forced by --backend ring=ucx");
  EXPECT_EQ(tp::backend_reason(tp::LinkClass::Network, false, all, "ring"),
            "best score of nccl 0, ucx 6, mpi 4 for CPUs over NET");
  forced.per_dim = {{"ring", "nccl"}};
  EXPECT_NE(error_of([&] {
              tp::choose_backend(tp::LinkClass::Network, false, forced, "ring");
            }).find("--backend ring=nccl"),
            std::string::npos);
  EXPECT_EQ(tp::choose_backend(tp::LinkClass::Network, false, tp::BackendOptions{}), "");
}

TEST(Placement, ImpossibleMeshesAreRejectedNamingTheRule) {
  const tp::Cluster c = virtual_2x4();
  std::string e = error_of([&] { tp::place_mesh(c, {{"ulysses", 4}, {"ring", 4}}); });
  EXPECT_NE(e.find("product of dimension sizes equal to the world size 8"), std::string::npos) << e;
  EXPECT_NE(e.find("4x4 = 16"), std::string::npos) << e;
  e = error_of([&] { tp::place_mesh(c, {{"heads", 8}}); });
  EXPECT_NE(
      e.find("dimension name: expected one of ulysses, tp, inner, ring, outer, dp, found 'heads'"),
      std::string::npos)
      << e;
  e = error_of([&] { tp::place_mesh(c, {{"ring", 2}, {"ring", 4}}); });
  EXPECT_NE(e.find("each name at most once"), std::string::npos) << e;
  e = error_of([&] { tp::place_mesh(c, {{"ring", 0}, {"ulysses", 8}}); });
  EXPECT_NE(e.find("size >= 1"), std::string::npos) << e;
  e = error_of([&] { tp::parse_mesh("ulysses=four"); });
  EXPECT_NE(e.find("an integer size"), std::string::npos) << e;
  e = error_of([&] { tp::parse_mesh("ulysses"); });
  EXPECT_NE(e.find("name=size"), std::string::npos) << e;
}

TEST(Placement, WorldSizesAndTrivialDimensions) {
  tp::Node cpu;
  cpu.packages = 1;
  cpu.cores = 1;
  cpu.pus = 1;
  cpu.numa = {{0, 1, 1, 0}};
  for (int w : {1, 2, 3, 4, 8}) {
    const tp::Cluster c = tp::uniform_cluster(cpu, 1, w);
    const tp::Placement p = tp::place_mesh(c, {{"ulysses", w}, {"ring", 1}}, mpi_only());
    ASSERT_EQ(p.dims[0].groups.size(), 1u);
    EXPECT_EQ(static_cast<int>(p.dims[0].groups[0].size()), w);
    EXPECT_EQ(static_cast<int>(p.dims[1].groups.size()), w);
    EXPECT_NE(p.dims[1].explanation.find("trivial"), std::string::npos);
  }
  EXPECT_EQ(tp::format_groups({{0, 1, 2, 5, 7, 8}}), "{0-2,5,7-8}");
}
