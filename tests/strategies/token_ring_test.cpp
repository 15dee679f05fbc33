// TokenRing against the single-rank Block at every world size (context_parallel_check.hpp):
// zigzag when causal, contiguous otherwise; other layouts; ZeRO-3 weights; traffic == cost().
#include <gtest/gtest.h>

#include "context_parallel_check.hpp"
#include "strategies/ring.hpp"
#include "strategies/token_ring.hpp"

namespace ody::strategies {
namespace {

TEST(TokenRing, MatchesBlock) { EXPECT_GT(test::check_sweep("token-ring"), 0); }

TEST(TokenRing, OtherLayoutsMatchBlock) { test::check_other_layouts("token-ring"); }

TEST(TokenRing, Zero3MatchesBlock) {
  StrategyOptions o;
  o.weights = WeightMode::zero3;
  EXPECT_GT(test::check_sweep("token-ring", o), 0);
}

TEST(TokenRing, RejectsInvalidShapes) {
  auto world = backends::create_world(ody::test::backend_name());
  const int n = world->size();
  if (n > 1) EXPECT_THROW(TokenRing(BlockConfig{1, 7 * n, 32, 4, 1, 48, true}, *world), Error);
  EXPECT_THROW(TokenRing(BlockConfig{1, 3, 32, 4, 1, 48, true}, *world), Error);
  EXPECT_THROW(TokenRing(BlockConfig{1, 24, 32, 4, 4, 48, true}, *world, WeightMode::zero3_mlp),
               Error);
}

// What the header says about when it wins: per step TokenRing's forward sends the queries
// and the partials, the ring the k/v; equal heads (G = H) make the queries half the ring's
// k/v, GQA (G < H/2) makes them larger.
TEST(TokenRing, SendsQueriesNotKeys) {
  const int n = 4;
  const BlockConfig mha{1, 32, 32, 4, 4, 48, true}, gqa{1, 32, 32, 4, 1, 48, true};
  auto sent = [](const Cost& c) { return c.forward[comm::OpKind::send].bytes_sent; };
  const std::uint64_t Ll = 32 / n, Dh = 8;
  EXPECT_EQ(sent(TokenRing::cost(mha, n, 0, TokenLayout::zigzag)),
            (n - 1) * (Ll * 4 * Dh * 4 + (Ll * 4 * Dh + 4 * Ll) * 4));
  EXPECT_LT(
      sent(TokenRing::cost(mha, n, 0, TokenLayout::zigzag)) - (n - 1) * (Ll * 4 * Dh + 4 * Ll) * 4,
      sent(Ring::cost(mha, n, 0)));
  EXPECT_GT(sent(TokenRing::cost(gqa, n, 0, TokenLayout::zigzag)), sent(Ring::cost(gqa, n, 0)));
  EXPECT_EQ(TokenRing::cost(mha, 1, 0, TokenLayout::zigzag).forward[comm::OpKind::send].ops, 0u);
}

}  // namespace
}  // namespace ody::strategies
