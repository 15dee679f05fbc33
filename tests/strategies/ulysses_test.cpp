// Ulysses against the single-rank Block at every world size (strategy_check.hpp).
#include <gtest/gtest.h>

#include "backends/registry.hpp"
#include "base/error.hpp"
#include "strategies/ulysses.hpp"
#include "strategy_check.hpp"
#include "support/test_args.hpp"

namespace ody::strategies {
namespace {

TEST(Ulysses, MatchesBlock) {
  auto world = backends::create_world(ody::test::backend_name());
  int ran = 0;
  for (const auto& p : test::sweep()) {
    const BlockConfig cfg{p.B, p.L, p.d, p.H, p.G, p.i, p.causal};
    try {
      Ulysses::check(cfg, world->size());
    } catch (const Error&) {
      continue;  // not valid at this world size (the errors are tested below)
    }
    SCOPED_TRACE(test::shape_name(p));
    Ulysses s(cfg, *world);
    test::check_against_block(s);
    ++ran;
  }
  EXPECT_GT(ran, 0);
}

// WeightMode::zero3: every weight sharded 1/N, gathered twice, gradients reduce-scattered.
TEST(Ulysses, Zero3MatchesBlock) {
  auto world = backends::create_world(ody::test::backend_name());
  int ran = 0;
  for (const auto& p : test::sweep()) {
    const BlockConfig cfg{p.B, p.L, p.d, p.H, p.G, p.i, p.causal};
    try {
      Ulysses::check(cfg, world->size());
    } catch (const Error&) {
      continue;
    }
    SCOPED_TRACE(test::shape_name(p));
    Ulysses s(cfg, *world, WeightMode::zero3);
    EXPECT_EQ(s.weight_mode(), WeightMode::zero3);
    test::check_against_block(s);
    ++ran;
  }
  EXPECT_GT(ran, 0);
}

TEST(Ulysses, RejectsInvalidShapes) {
  auto world = backends::create_world(ody::test::backend_name());
  const int n = world->size();
  if (n > 1) EXPECT_THROW(Ulysses(BlockConfig{1, 4 * n + 1, 32, 4, 4, 48, true}, *world), Error);
  if (n == 3) {
    EXPECT_THROW(Ulysses(BlockConfig{1, 24, 32, 4, 4, 48, true}, *world), Error);  // H % N
  }
  if (n == 4) {
    EXPECT_THROW(Ulysses(BlockConfig{1, 24, 48, 6, 6, 48, true}, *world), Error);   // H % N
    EXPECT_THROW(Ulysses(BlockConfig{1, 24, 48, 12, 6, 48, true}, *world), Error);  // G=6 vs N=4
  }
  EXPECT_THROW(Ulysses(BlockConfig{1, 24, 32, 4, 4, 48, true}, *world, WeightMode::zero3_mlp),
               Error);
}

}  // namespace
}  // namespace ody::strategies
