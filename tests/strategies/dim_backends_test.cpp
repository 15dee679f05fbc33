// StrategyOptions::backend_of (strategies/factory.hpp, strategies::dims_on_backends): each
// mesh dimension on a backend of its own, over the same ranks. On 2 pretend nodes x 2 ranks
// (np 4; node-major and round-robin node maps), usp (ulysses=2,ring=2) and odysseus-ring
// (tp=2,ring=2) with the inner and outer dimensions on different backends, and the
// one-dimensional strategies on a world of another backend than the one they are given,
// must match the single-rank Block with traffic == cost() (strategy_check.hpp), and so must a
// two-level world whose levels are on two backends ("mpi+ucx"). Each
// dimension's communicator is asserted to be of the backend named (its type, not a name
// printed somewhere). Bad input: a dimension the strategy does not have, an unknown
// backend.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "backends/hierarchical/communicator.hpp"
#include "backends/mpi/communicator.hpp"
#include "backends/registry.hpp"
#include "backends/ucx/communicator.hpp"
#include "base/error.hpp"
#include "strategies/factory.hpp"
#include "strategy_check.hpp"

namespace ody::strategies {
namespace {

bool is_backend(comm::Communicator& c, const std::string& name) {
  if (name == "mpi") return dynamic_cast<backends::mpi::MpiCommunicator*>(&c) != nullptr;
  if (name == "ucx") return dynamic_cast<backends::ucx::UcxCommunicator*>(&c) != nullptr;
  return false;
}

BlockConfig config(bool causal) { return BlockConfig{1, 32, 64, 8, 8, 64, causal}; }

class DimBackends : public ::testing::Test {
 protected:
  void SetUp() override {
    world_ = backends::create_world("mpi");
    if (world_->size() != 4) GTEST_SKIP() << "needs 4 ranks (2 pretend nodes of 2)";
  }
  void run(const std::string& name, const std::map<std::string, std::string>& backend_of,
           const std::vector<int>& node_of_rank, bool causal) {
    StrategyOptions o;
    o.backend_of = backend_of;
    o.node_of_rank = node_of_rank;
    auto s = make_strategy(name, config(causal), *world_, o);
    for (const auto& d : s->mesh_dims()) {
      const auto it = backend_of.find(d.name);
      const std::string want = it == backend_of.end() ? "mpi" : it->second;
      EXPECT_TRUE(is_backend(s->mesh_comm(d.name), want))
          << name << ": dimension " << d.name << " is " << s->mesh_comm(d.name).info().name
          << ", not " << want;
      EXPECT_EQ(s->mesh_comm(d.name).info().name, want);
    }
    test::check_against_block(*s);
  }
  std::unique_ptr<comm::Communicator> world_;
};

const std::vector<std::vector<int>> kNodeMaps = {{0, 0, 1, 1}, {0, 1, 0, 1}};

TEST_F(DimBackends, HybridsWithADifferentBackendPerDimension) {
  for (const auto& nodes : kNodeMaps)
    for (bool causal : {true, false}) {
      SCOPED_TRACE(std::string(causal ? "causal" : "full") + " nodes " + std::to_string(nodes[1]));
      run("usp", {{"ulysses", "mpi"}, {"ring", "ucx"}}, nodes, causal);
      run("usp", {{"ulysses", "ucx"}}, nodes, causal);
      run("odysseus-ring", {{"tp", "ucx"}, {"ring", "mpi"}}, nodes, causal);
      run("odysseus-ring", {{"ring", "ucx"}}, nodes, causal);
    }
}

TEST_F(DimBackends, OneDimensionalOnAnotherBackendsWorld) {
  for (const char* name : {"ulysses", "ring", "tpsp", "odysseus"}) {
    SCOPED_TRACE(name);
    const std::string dim = make_strategy(name, config(true), *world_)->mesh_dims()[0].name;
    run(name, {{dim, "ucx"}}, {}, true);
  }
}

// A two-level world (2 nodes x 2 ranks) with its levels on two backends ("mpi+ucx"): the
// intra-node level on mpi, the inter-node level on ucx.
TEST_F(DimBackends, TwoLevelsOnTwoBackends) {
  for (const char* name : {"ulysses", "ring", "tpsp"}) {
    SCOPED_TRACE(name);
    const std::string dim = make_strategy(name, config(true), *world_)->mesh_dims()[0].name;
    StrategyOptions o;
    o.backend_of = {{dim, "mpi+ucx"}};
    o.node_of_rank = {0, 0, 1, 1};
    auto s = make_strategy(name, config(true), *world_, o);
    auto* h = dynamic_cast<backends::hierarchical::HierarchicalCommunicator*>(&s->comm());
    ASSERT_NE(h, nullptr);
    EXPECT_TRUE(is_backend(h->intra(), "mpi")) << h->intra().info().name;
    EXPECT_TRUE(is_backend(h->inter(), "ucx")) << h->inter().info().name;
    test::check_against_block(*s);
    EXPECT_GT(h->inter_traffic().total().ops, 0u);
  }
}

TEST_F(DimBackends, BadInputNamesTheRule) {
  StrategyOptions o;
  o.backend_of = {{"tp", "ucx"}};
  try {
    make_strategy("usp", config(true), *world_, o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "usp: dimension backends: expected names of its mesh dimensions (ulysses, ring)"),
              std::string::npos)
        << e.what();
  }
  o.backend_of = {{"ring", "carrier-pigeon"}};
  try {
    make_strategy("usp", config(true), *world_, o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'carrier-pigeon'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ody::strategies
