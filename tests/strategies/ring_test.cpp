// Ring attention against the single-rank Block at every world size (strategy_check.hpp):
// zigzag when causal, contiguous otherwise.
#include <gtest/gtest.h>

#include "backends/registry.hpp"
#include "base/error.hpp"
#include "strategies/ring.hpp"
#include "strategy_check.hpp"
#include "support/test_args.hpp"

namespace ody::strategies {
namespace {

TEST(Ring, MatchesBlock) {
  auto world = backends::create_world(ody::test::backend_name());
  int ran = 0;
  for (const auto& p : test::sweep()) {
    const BlockConfig cfg{p.B, p.L, p.d, p.H, p.G, p.i, p.causal};
    try {
      Ring::check(cfg, world->size());
    } catch (const Error&) {
      continue;
    }
    SCOPED_TRACE(test::shape_name(p));
    Ring s(cfg, *world);
    EXPECT_EQ(s.layout(), p.causal ? TokenLayout::zigzag : TokenLayout::contiguous);
    test::check_against_block(s);
    ++ran;
  }
  EXPECT_GT(ran, 0);
}

// Any layout works with the position-masked kernel: stripe (causal and not) and
// contiguous with causal (no zigzag half-block selection).
TEST(Ring, OtherLayoutsMatchBlock) {
  auto world = backends::create_world(ody::test::backend_name());
  for (auto lay : {TokenLayout::stripe, TokenLayout::contiguous})
    for (bool causal : {true, false}) {
      const BlockConfig cfg{1, 24, 32, 4, 2, 48, causal};
      SCOPED_TRACE(std::string(to_string(lay)) + (causal ? " causal" : " full"));
      Ring s(cfg, *world, WeightMode::replicated, lay);
      EXPECT_EQ(s.layout(), lay);
      test::check_against_block(s);
    }
}

// WeightMode::zero3: every weight sharded 1/N, gathered twice, gradients reduce-scattered.
TEST(Ring, Zero3MatchesBlock) {
  auto world = backends::create_world(ody::test::backend_name());
  int ran = 0;
  for (const auto& p : test::sweep()) {
    const BlockConfig cfg{p.B, p.L, p.d, p.H, p.G, p.i, p.causal};
    try {
      Ring::check(cfg, world->size());
    } catch (const Error&) {
      continue;
    }
    SCOPED_TRACE(test::shape_name(p));
    Ring s(cfg, *world, WeightMode::zero3);
    EXPECT_EQ(s.weight_mode(), WeightMode::zero3);
    test::check_against_block(s);
    ++ran;
  }
  EXPECT_GT(ran, 0);
}

TEST(Ring, RejectsInvalidShapes) {
  auto world = backends::create_world(ody::test::backend_name());
  const int n = world->size();
  // Zigzag needs L % (2N) == 0; L = 7N is divisible by N, not by 2N.
  if (n > 1) EXPECT_THROW(Ring(BlockConfig{1, 7 * n, 32, 4, 4, 48, true}, *world), Error);
  EXPECT_THROW(Ring(BlockConfig{1, 3, 32, 4, 4, 48, true}, *world),
               Error);  // L odd: never divisible by 2N
  if (n > 1) EXPECT_THROW(Ring(BlockConfig{1, 4 * n + 1, 32, 4, 4, 48, false}, *world), Error);
  EXPECT_THROW(Ring(BlockConfig{1, 24, 32, 4, 4, 48, true}, *world, WeightMode::zero3_mlp), Error);
}

}  // namespace
}  // namespace ody::strategies
