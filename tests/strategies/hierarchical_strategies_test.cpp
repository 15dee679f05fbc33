// Every strategy built through the factory with StrategyOptions::node_of_rank for 2
// pretend nodes (np 4 and 8): a mesh dimension (or, for the one-dimensional strategies,
// the world) whose groups span both nodes with more than one rank on each runs over a
// backends::hierarchical::HierarchicalCommunicator, and the strategy must still match the
// single-rank Block with traffic == cost() exactly (strategy_check.hpp; the hierarchical
// communicator counts the logical operations' flat volumes, docs/traffic.md).
//
// Node maps: node-major (rank r on node r / (N/2)), round-robin (r on node r % 2), and
// round-robin with a placement that lists node 0's ranks first (logical index m on world
// rank placement[m]), which makes the logical mesh node-major again. Which dimensions are
// hierarchical is worked out here from the mesh rule (inner first: dimension k's group of
// logical index m varies coordinate k only) and the node map, and asserted on the
// strategy's communicators (Strategy::mesh_comm), so the test cannot pass on flat ones.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "backends/hierarchical/communicator.hpp"
#include "backends/registry.hpp"
#include "base/error.hpp"
#include "strategies/factory.hpp"
#include "strategy_check.hpp"
#include "support/test_args.hpp"

namespace ody::strategies {
namespace {

struct NodeMap {
  std::string name;
  std::vector<int> node_of_rank;  // by world rank
  std::vector<int> placement;     // logical index -> world rank (empty: identity)
};

std::vector<NodeMap> node_maps(int n) {
  NodeMap major{"node-major", {}, {}}, rr{"round-robin", {}, {}},
      placed{"round-robin placed node-major", {}, {}};
  for (int r = 0; r < n; ++r) {
    major.node_of_rank.push_back(r / (n / 2));
    rr.node_of_rank.push_back(r % 2);
    placed.node_of_rank.push_back(r % 2);
  }
  // Logical indices 0..n/2-1 on node 0 (even ranks), the rest on node 1 (odd ranks).
  for (int m = 0; m < n; ++m) placed.placement.push_back(m < n / 2 ? 2 * m : 2 * (m - n / 2) + 1);
  return {major, rr, placed};
}

// Whether the group of dimension k (sizes inner first) holding this rank's logical index
// spans more than one node with equally many (> 1) ranks on each: the rule of
// strategies/mesh.hpp, written out independently.
bool expect_hierarchical(const std::vector<int>& sizes, int k, int index, const NodeMap& nm) {
  int stride = 1;
  for (int j = 0; j < k; ++j) stride *= sizes[j];
  const int coord = (index / stride) % sizes[k], base = index - coord * stride;
  std::map<int, int> per_node;
  for (int c = 0; c < sizes[k]; ++c) {
    const int m = base + c * stride;
    const int world = nm.placement.empty() ? m : nm.placement[m];
    ++per_node[nm.node_of_rank[world]];
  }
  std::set<int> counts;
  for (const auto& [node, count] : per_node) counts.insert(count);
  return per_node.size() > 1 && counts.size() == 1 && *counts.begin() > 1;
}

bool is_hierarchical(comm::Communicator& c) {
  return dynamic_cast<backends::hierarchical::HierarchicalCommunicator*>(&c) != nullptr;
}

// H and i divisible by 8 so that every mesh of 4 and 8 ranks is valid for every strategy;
// L = 32 leaves 2 tokens per zigzag half-chunk at N = 8. G: 8 where kv heads are sharded
// over a tp group (tpsp, odysseus, odysseus-ring), else 8 (causal) or 2 (full: replicated
// kv heads in the ulysses group).
BlockConfig config(const std::string& name, bool causal) {
  const bool tp = name == "tpsp" || name == "odysseus" || name == "odysseus-ring";
  return BlockConfig{1, 32, 64, 8, tp || causal ? 8 : 2, 64, causal};
}

class HierarchicalStrategies : public ::testing::Test {
 protected:
  void SetUp() override {
    world_ = backends::create_world(ody::test::backend_name());
    n_ = world_->size();
    if (n_ != 4 && n_ != 8) GTEST_SKIP() << "needs 4 or 8 ranks (2 pretend nodes of 2 or 4)";
  }
  // Builds `name` with `o`, checks which dimensions are hierarchical, then runs the
  // check against the Block. Returns the number of hierarchical dimensions.
  int run(const std::string& name, const BlockConfig& cfg, const StrategyOptions& o,
          const NodeMap& nm) {
    auto s = make_strategy(name, cfg, *world_, o);
    const auto dims = s->mesh_dims();
    std::vector<int> sizes;
    for (const auto& d : dims) sizes.push_back(d.size);
    const int index = s->layout_rank();  // the logical index
    int hier = 0;
    for (std::size_t k = 0; k < dims.size(); ++k) {
      const bool want = expect_hierarchical(sizes, static_cast<int>(k), index, nm);
      EXPECT_EQ(is_hierarchical(s->mesh_comm(dims[k].name)), want) << "dimension " << dims[k].name;
      hier += want;
    }
    if (dims.size() == 1) EXPECT_EQ(&s->mesh_comm(dims[0].name), &s->comm());
    test::check_against_block(*s);
    // The cost the factory states without constructing the strategy, per world rank.
    const Cost a = s->cost(), b = strategy_cost(name, cfg, n_, world_->rank(), o);
    test::expect_traffic("forward (factory)", a.forward, b.forward);
    test::expect_traffic("backward (factory)", a.backward, b.backward);
    // One-dimensional strategies whose collectives go through the two levels: the levels
    // carried the steps (intra and inter both), so the two-level algorithms really ran.
    if (auto* h = dynamic_cast<backends::hierarchical::HierarchicalCommunicator*>(&s->comm());
        h && dims.size() == 1) {
      const auto levels =
          h->intra_traffic().total().bytes_sent + h->inter_traffic().total().bytes_sent;
      const auto collectives =
          s->traffic().total().bytes_sent - s->traffic()[comm::OpKind::send].bytes_sent;
      if (collectives > 0) {
        EXPECT_GT(h->intra_traffic().total().ops, 0u);
        EXPECT_GT(h->inter_traffic().total().ops, 0u);
        EXPECT_GT(levels, 0u);
      }
    }
    return hier;
  }
  std::unique_ptr<comm::Communicator> world_;
  int n_ = 1;
};

TEST_F(HierarchicalStrategies, OneDimensionalOnTwoLevelWorld) {
  for (const NodeMap& nm : node_maps(n_))
    for (const char* name : {"ulysses", "ring", "tpsp", "odysseus", "allgather-kv", "token-ring"})
      for (bool causal : {true, false}) {
        SCOPED_TRACE(std::string(name) + " " + nm.name + (causal ? " causal" : " full"));
        StrategyOptions o;
        o.node_of_rank = nm.node_of_rank;
        o.placement = nm.placement;
        // Two nodes of N/2 >= 2 ranks: the world is always two-level.
        EXPECT_EQ(run(name, config(name, causal), o, nm), 1);
      }
}

TEST_F(HierarchicalStrategies, ZeroThreeWeightsOnTwoLevelWorld) {
  const NodeMap nm = node_maps(n_)[1];
  for (const char* name : {"ulysses", "ring"}) {
    SCOPED_TRACE(std::string(name) + " zero3 " + nm.name);
    StrategyOptions o;
    o.node_of_rank = nm.node_of_rank;
    o.weights = WeightMode::zero3;
    EXPECT_EQ(run(name, config(name, false), o, nm), 1);
  }
}

TEST_F(HierarchicalStrategies, HybridsOnEveryMesh) {
  for (const char* name : {"usp", "odysseus-ring", "double-ring"}) {
    const std::string n = name,
                      inner = n == "usp"           ? "ulysses"
                              : n == "double-ring" ? "inner"
                                                   : "tp",
                      outer = n == "double-ring" ? "outer" : "ring";
    int hier_total = 0;
    for (const NodeMap& nm : node_maps(n_))
      for (int I = 1; I <= n_; I *= 2)
        for (bool causal : {true, false}) {
          SCOPED_TRACE(std::string(name) + " " + inner + "=" + std::to_string(I) + "," + outer +
                       "=" + std::to_string(n_ / I) + " " + nm.name +
                       (causal ? " causal" : " full"));
          StrategyOptions o;
          o.node_of_rank = nm.node_of_rank;
          o.placement = nm.placement;
          o.mesh = {{inner, I}, {outer, n_ / I}};
          hier_total += run(name, config(name, causal), o, nm);
        }
    // Some mesh of every world size has a two-level dimension (I = N: the inner one).
    EXPECT_GT(hier_total, 0) << name;
  }
  if (n_ == 8) {
    // The cases worked out by hand (logical index 0): node-major 2x4: the ring {0,2,4,6}
    // spans both nodes with 2 on each; round-robin 4x2: the inner group {0,1,2,3}.
    const auto maps = node_maps(8);
    EXPECT_FALSE(expect_hierarchical({2, 4}, 0, 0, maps[0]));
    EXPECT_TRUE(expect_hierarchical({2, 4}, 1, 0, maps[0]));
    EXPECT_TRUE(expect_hierarchical({4, 2}, 0, 0, maps[1]));
    EXPECT_FALSE(expect_hierarchical({4, 2}, 1, 0, maps[1]));
    EXPECT_FALSE(expect_hierarchical({4, 2}, 0, 0, maps[2]));  // placed: inner inside a node
  }
}

// Uneven nodes keep the flat communicator (no error), and a node map of the wrong length
// is rejected naming node_of_rank.
TEST_F(HierarchicalStrategies, UnevenOrBadNodeMaps) {
  StrategyOptions o;
  o.node_of_rank.assign(static_cast<std::size_t>(n_), 1);
  o.node_of_rank[0] = 0;  // 1 rank on node 0, N-1 on node 1
  auto s = make_strategy("ulysses", config("ulysses", true), *world_, o);
  EXPECT_FALSE(is_hierarchical(s->comm()));
  test::check_against_block(*s);
  o.node_of_rank.push_back(0);
  for (const char* name : {"ulysses", "usp"}) {
    try {
      make_strategy(name, config(name, true), *world_, o);
      ADD_FAILURE() << name << ": no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("node_of_rank"), std::string::npos) << e.what();
    }
  }
  world_->barrier();  // nothing was left half-done
}

}  // namespace
}  // namespace ody::strategies
