// The double ring against the single-rank Block (context_parallel_check.hpp) at every
// window that divides the world size (inner=w,outer=N/w: w = N is one window, w = 1 the
// plain ring over the outer dimension), other layouts, ZeRO-3 weights, two pretend nodes
// (a window per node, the outer ring two-level-free across them); traffic == cost(), the
// ring's bytes split into inner, outer and home hops.
#include <gtest/gtest.h>

#include "context_parallel_check.hpp"
#include "strategies/double_ring.hpp"
#include "strategies/ring.hpp"

namespace ody::strategies {
namespace {

int world_size() { return backends::create_world(ody::test::backend_name())->size(); }

StrategyOptions window(int w, int n) {
  StrategyOptions o;
  o.mesh = {{"inner", w}, {"outer", n / w}};
  return o;
}

TEST(DoubleRing, MatchesBlockAtEveryWindow) {
  const int n = world_size();
  for (int w = 1; w <= n; ++w)
    if (n % w == 0) {
      SCOPED_TRACE("window " + std::to_string(w));
      EXPECT_GT(test::check_sweep("double-ring", window(w, n)), 0);
    }
}

TEST(DoubleRing, OtherLayoutsMatchBlock) {
  const int n = world_size();
  test::check_other_layouts("double-ring", window(n % 2 == 0 ? n / 2 : n, n));
}

TEST(DoubleRing, Zero3MatchesBlock) {
  const int n = world_size();
  StrategyOptions o = window(n % 2 == 0 ? 2 : 1, n);
  o.weights = WeightMode::zero3;
  EXPECT_GT(test::check_sweep("double-ring", o), 0);
}

// Two pretend nodes of N/2 ranks, a window per node: the outer ring crosses them.
TEST(DoubleRing, WindowPerPretendNode) {
  const int n = world_size();
  if (n < 4 || n % 2) GTEST_SKIP() << "needs an even world of at least 4 ranks";
  StrategyOptions o = window(n / 2, n);
  for (int r = 0; r < n; ++r) o.node_of_rank.push_back(r / (n / 2));
  auto world = backends::create_world(ody::test::backend_name());
  auto s = make_strategy("double-ring", BlockConfig{1, 8 * n, 32, 4, 2, 48, true}, *world, o);
  EXPECT_EQ(s->describe_mesh(), "inner=" + std::to_string(n / 2) + ",outer=2");
  test::check_against_block(*s);
}

// The default window is a node's ranks when the nodes are known, else the hybrids' choice.
TEST(DoubleRing, DefaultWindowIsANode) {
  const BlockConfig c{1, 64, 32, 4, 2, 48, true};
  StrategyOptions o;
  EXPECT_EQ(describe_mesh("double-ring", c, 8, o), "inner=4,outer=2");
  o.node_of_rank = {0, 0, 1, 1, 2, 2, 3, 3};
  EXPECT_EQ(describe_mesh("double-ring", c, 8, o), "inner=2,outer=4");
  o.node_of_rank = {0, 1};
  EXPECT_EQ(describe_mesh("double-ring", c, 2, o), "inner=1,outer=2");
  o.node_of_rank = {0, 0, 0, 1};  // uneven: the hybrids' choice
  EXPECT_EQ(describe_mesh("double-ring", c, 4, o), "inner=2,outer=2");
}

TEST(DoubleRing, RejectsInvalidWindows) {
  const BlockConfig c{1, 32, 32, 4, 2, 48, true};
  EXPECT_THROW(DoubleRing::check(c, 4, 3, TokenLayout::zigzag), Error);
  EXPECT_THROW(DoubleRing::check(c, 4, 0, TokenLayout::zigzag), Error);
  StrategyOptions misnamed;
  misnamed.mesh = {{"inner", 2}, {"ring", 2}};
  EXPECT_THROW(check_strategy("double-ring", c, 4, misnamed), Error);
  EXPECT_NO_THROW(DoubleRing::check(c, 4, 2, TokenLayout::zigzag));
}

// The ring's bytes and hop counts for every window.
TEST(DoubleRing, SameTrafficAsTheRing) {
  const BlockConfig c{1, 48, 32, 4, 2, 48, true};
  for (int n : {1, 2, 4, 6, 8})
    for (int w = 1; w <= n; ++w) {
      if (n % w || c.L % (2 * n)) continue;
      const Cost d = DoubleRing::cost(c, n, 0, w, TokenLayout::zigzag), r = Ring::cost(c, n, 0);
      for (auto kind : {comm::OpKind::send, comm::OpKind::recv}) {
        EXPECT_EQ(d.forward[kind].ops, r.forward[kind].ops) << n << " " << w;
        EXPECT_EQ(d.backward[kind].bytes_sent, r.backward[kind].bytes_sent) << n << " " << w;
        EXPECT_EQ(d.backward[kind].bytes_recv, r.backward[kind].bytes_recv) << n << " " << w;
      }
    }
}

}  // namespace
}  // namespace ody::strategies
