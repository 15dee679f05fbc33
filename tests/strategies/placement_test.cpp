// The hybrids on a topology placement (np 8): a 2-node x 4-rank cluster (one machine split
// into virtual nodes), topology::place_mesh with ulysses=4,ring=2 and tp=4,ring=2: the
// heavy groups inside nodes, the ring across; then usp / odysseus-ring built with that
// placement (identity for node-major rank numbering, a real permutation when the launcher
// numbers ranks round-robin over the nodes, and an arbitrary permutation) must equal the
// single-rank Block, with each rank holding the tokens of its LOGICAL index. No dimension
// is hierarchical there (tests/strategies/hierarchical_strategies_test.cpp has those).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "backends/hierarchical/communicator.hpp"
#include "backends/registry.hpp"
#include "strategies/factory.hpp"
#include "strategy_check.hpp"
#include "support/test_args.hpp"
#include "topology/cluster.hpp"
#include "topology/placement.hpp"

namespace ody::strategies {
namespace {

namespace tp = ody::topology;

// One CPU machine of 8 ranks split into 2 virtual nodes of 4; round_robin: the launcher
// numbered ranks alternately over the nodes (rank r on node r % 2).
tp::Cluster two_by_four(bool round_robin) {
  tp::Node cpu;
  cpu.host = "box";
  cpu.packages = 1;
  cpu.cores = 8;
  cpu.pus = 8;
  cpu.numa = {{0, 4, 4, 0}, {1, 4, 4, 0}};
  tp::Cluster c = tp::with_virtual_nodes(tp::uniform_cluster(cpu, 1, 8), 2);
  if (round_robin)
    for (int r = 0; r < 8; ++r) {
      c.ranks[r].node = r % 2;
      c.ranks[r].local_rank = r / 2;
    }
  return c;
}

tp::BackendOptions mpi_only() {
  tp::BackendOptions o;
  o.candidates = {{"mpi", {5, 5, 5, 5, 5, 4}, {2, 2, 2, 2, 2, 2}}};
  return o;
}

StrategyOptions options_of(const tp::Placement& pl, const tp::Cluster& c) {
  StrategyOptions o;
  for (const auto& d : pl.inner_first) o.mesh.push_back({d.name, d.size});
  o.placement = pl.rank_of_index;
  for (const auto& r : c.ranks) o.node_of_rank.push_back(r.node);
  return o;
}

// Pure: the placement puts each inner group inside one node and each ring group across
// both, and the strategies' logical-index arithmetic (inner groups = consecutive indices)
// gives exactly the placement's groups.
TEST(Placement, InnerGroupsInsideNodesRingAcross) {
  for (bool rr : {false, true})
    for (const char* inner : {"ulysses", "tp"}) {
      SCOPED_TRACE(std::string(inner) + (rr ? " round-robin ranks" : " node-major ranks"));
      const tp::Cluster c = two_by_four(rr);
      const tp::Placement pl = tp::place_mesh(c, {{inner, 4}, {"ring", 2}}, mpi_only());
      ASSERT_EQ(pl.inner_first.size(), 2u);
      EXPECT_EQ(pl.inner_first[0].name, inner);
      EXPECT_EQ(pl.inner_first[1].name, "ring");
      for (const auto& d : pl.dims)
        for (const auto& g : d.groups) {
          std::set<int> nodes;
          for (int r : g) nodes.insert(c.ranks[r].node);
          EXPECT_EQ(nodes.size(), d.name == "ring" ? 2u : 1u) << d.name;
        }
      // Inner group rho = logical indices 4·rho .. 4·rho+3.
      std::vector<std::vector<int>> mine(2);
      for (int m = 0; m < 8; ++m) mine[m / 4].push_back(pl.rank_of_index[m]);
      for (auto& g : mine) std::sort(g.begin(), g.end());
      auto theirs = pl.dims[0].name == inner ? pl.dims[0].groups : pl.dims[1].groups;
      for (auto& g : theirs) std::sort(g.begin(), g.end());
      std::sort(theirs.begin(), theirs.end());
      std::sort(mine.begin(), mine.end());
      EXPECT_EQ(mine, theirs);
      if (rr) EXPECT_EQ(pl.rank_of_index, (std::vector<int>{0, 2, 4, 6, 1, 3, 5, 7}));
    }
}

TEST(Placement, HybridsOnPlacedMeshMatchBlock) {
  auto world = backends::create_world(ody::test::backend_name());
  if (world->size() != 8) GTEST_SKIP() << "needs 8 ranks (2 nodes x 4)";
  for (bool rr : {false, true})
    for (const char* name : {"usp", "odysseus-ring"}) {
      const char* inner = std::string(name) == "usp" ? "ulysses" : "tp";
      const tp::Cluster c = two_by_four(rr);
      const StrategyOptions o =
          options_of(tp::place_mesh(c, {{inner, 4}, {"ring", 2}}, mpi_only()), c);
      for (bool causal : {true, false}) {
        SCOPED_TRACE(std::string(name) + (rr ? " round-robin" : " node-major") +
                     (causal ? " causal" : " full"));
        const BlockConfig cfg{1, 32, 32, 4, 4, 48, causal};
        auto s = make_strategy(name, cfg, *world, o);
        EXPECT_EQ(s->describe_mesh(), std::string(inner) + "=4,ring=2");
        // node_of_rank is passed on, but the placement leaves no group spanning nodes with
        // more than one rank on each: the inner groups sit inside a node, the ring has one
        // rank per node. Both dimensions keep flat communicators.
        for (const char* dim : {inner, "ring"})
          EXPECT_EQ(
              dynamic_cast<backends::hierarchical::HierarchicalCommunicator*>(&s->mesh_comm(dim)),
              nullptr)
              << dim;
        const int index = int(std::find(o.placement.begin(), o.placement.end(), world->rank()) -
                              o.placement.begin());
        EXPECT_EQ(s->layout_rank(), index);
        if (rr && (world->rank() == 1 || world->rank() == 2))
          EXPECT_NE(s->layout_rank(), world->rank());
        test::check_against_block(*s);
        const Cost a = s->cost(), b = strategy_cost(name, cfg, 8, world->rank(), o);
        test::expect_traffic("forward (factory)", a.forward, b.forward);
        test::expect_traffic("backward (factory)", a.backward, b.backward);
      }
    }
}

// An arbitrary permutation (not from a topology) on the 2-D meshes.
TEST(Placement, ArbitraryPermutation) {
  auto world = backends::create_world(ody::test::backend_name());
  const int n = world->size();
  if (n != 8 && n != 4) GTEST_SKIP() << "needs 4 or 8 ranks";
  StrategyOptions o;
  for (int m = 0; m < n; ++m)
    o.placement.push_back((3 * m + 1) % n);  // a permutation: gcd(3, n) = 1
  for (const char* name : {"usp", "odysseus-ring"}) {
    o.mesh = {{std::string(name) == "usp" ? "ulysses" : "tp", 2}, {"ring", n / 2}};
    SCOPED_TRACE(name);
    auto s = make_strategy(name, BlockConfig{1, 4 * n, 32, 4, 2, 48, true}, *world, o);
    test::check_against_block(*s);
  }
}

}  // namespace
}  // namespace ody::strategies
