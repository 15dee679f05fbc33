// Odysseus against the single-rank Block at every world size (strategy_check.hpp).
#include <gtest/gtest.h>

#include "backends/registry.hpp"
#include "base/error.hpp"
#include "strategies/odysseus.hpp"
#include "strategy_check.hpp"
#include "support/test_args.hpp"

namespace ody::strategies {
namespace {

TEST(Odysseus, MatchesBlock) {
  auto world = backends::create_world(ody::test::backend_name());
  int ran = 0;
  for (const auto& p : test::sweep()) {
    const BlockConfig cfg{p.B, p.L, p.d, p.H, p.G, p.i, p.causal};
    try {
      Odysseus::check(cfg, world->size());
    } catch (const Error&) {
      continue;  // not valid at this world size (the errors are tested below)
    }
    SCOPED_TRACE(test::shape_name(p));
    Odysseus s(cfg, *world);
    test::check_against_block(s);
    ++ran;
  }
  EXPECT_GT(ran, 0);
}

TEST(Odysseus, RejectsInvalidShapes) {
  auto world = backends::create_world(ody::test::backend_name());
  const int n = world->size();
  if (n > 1) EXPECT_THROW(Odysseus(BlockConfig{1, 4 * n + 1, 32, 4, 4, 48, true}, *world), Error);
  if (n == 3) {
    EXPECT_THROW(Odysseus(BlockConfig{1, 24, 32, 4, 4, 48, true}, *world), Error);  // H % N
  }
  if (n == 4) {
    EXPECT_THROW(Odysseus(BlockConfig{1, 24, 48, 6, 6, 48, true}, *world), Error);   // H % N
    EXPECT_THROW(Odysseus(BlockConfig{1, 24, 48, 12, 6, 48, true}, *world), Error);  // G=6 vs N=4
  }
  EXPECT_THROW(
      Odysseus(BlockConfig{1, 24, 32, 4, 4, 48, true}, *world, WeightMode::tensor_parallel), Error);
  if (n == 2 || n == 4) {
    EXPECT_THROW(Odysseus(BlockConfig{1, 24, 32, 4, 1, 48, true}, *world), Error);  // G % N
    EXPECT_THROW(Odysseus(BlockConfig{1, 24, 32, 4, 4, 49, true}, *world), Error);  // i % N
  }
}

}  // namespace
}  // namespace ody::strategies
