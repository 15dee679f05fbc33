// All-gather-KV context parallelism against the single-rank Block at every world size
// (context_parallel_check.hpp): zigzag when causal, contiguous otherwise; other layouts;
// ZeRO-3 weights; the pipelined per-head gathers' traffic == cost().
#include <gtest/gtest.h>

#include "context_parallel_check.hpp"
#include "strategies/allgather_kv.hpp"

namespace ody::strategies {
namespace {

TEST(AllGatherKv, MatchesBlock) { EXPECT_GT(test::check_sweep("allgather-kv"), 0); }

TEST(AllGatherKv, OtherLayoutsMatchBlock) { test::check_other_layouts("allgather-kv"); }

TEST(AllGatherKv, Zero3MatchesBlock) {
  StrategyOptions o;
  o.weights = WeightMode::zero3;
  EXPECT_GT(test::check_sweep("allgather-kv", o), 0);
}

// No head rule: H = 4, G = 1 runs at any N that divides the zigzag; the rule is L's.
TEST(AllGatherKv, RejectsInvalidShapes) {
  auto world = backends::create_world(ody::test::backend_name());
  const int n = world->size();
  if (n > 1) EXPECT_THROW(AllGatherKv(BlockConfig{1, 7 * n, 32, 4, 1, 48, true}, *world), Error);
  EXPECT_THROW(AllGatherKv(BlockConfig{1, 3, 32, 4, 1, 48, true}, *world), Error);
  EXPECT_THROW(
      AllGatherKv(BlockConfig{1, 24, 32, 4, 4, 48, true}, *world, WeightMode::tensor_parallel),
      Error);
  EXPECT_NO_THROW(
      AllGatherKv::check(BlockConfig{1, 2 * n, 32, 4, 1, 48, true}, n, TokenLayout::zigzag));
}

// Traffic: G all-gathers forward, G all-gathers and G fp32 reduce-scatters backward, of one
// head's k/v block E = 2·B·(L/N)·Dh elements.
TEST(AllGatherKv, CostIsPerHeadGathers) {
  const int n = 4;
  const BlockConfig c{1, 32, 32, 4, 2, 48, true};
  const Cost cost = AllGatherKv::cost(c, n, 0, TokenLayout::zigzag);
  const auto E = std::uint64_t(2 * c.B * (c.L / n) * c.head_dim());
  EXPECT_EQ(cost.forward[comm::OpKind::allgather].ops, 2u);
  EXPECT_EQ(cost.forward[comm::OpKind::allgather].bytes_recv, 2 * (n - 1) * E * 4);
  EXPECT_EQ(cost.backward[comm::OpKind::reducescatter].ops, 2u);
  EXPECT_EQ(cost.backward[comm::OpKind::reducescatter].bytes_sent, 2 * (n - 1) * E * 4);
  EXPECT_EQ(cost.forward[comm::OpKind::send].ops, 0u);
}

}  // namespace
}  // namespace ody::strategies
