// Odysseus x Ring against the single-rank Block (strategy_check.hpp) on every mesh T x R
// of the world size (1x1; 1x2, 2x1; 1x4, 2x2, 4x1; at 8: 2x4, 4x2, ... at a small shape),
// causal (zigzag) and not, G = H, H/2, 1 where valid; traffic == cost() exactly.
#include <gtest/gtest.h>

#include "backends/registry.hpp"
#include "base/error.hpp"
#include "strategies/factory.hpp"
#include "strategies/odysseus_ring.hpp"
#include "strategy_check.hpp"
#include "support/test_args.hpp"

namespace ody::strategies {
namespace {

std::vector<int> divisors(int n) {
  std::vector<int> v;
  for (int t = 1; t <= n; ++t)
    if (n % t == 0) v.push_back(t);
  return v;
}

TEST(OdysseusRing, MatchesBlockOnEveryMesh) {
  auto world = backends::create_world(ody::test::backend_name());
  const int n = world->size();
  int ran = 0;
  for (int T : divisors(n)) {
    for (const auto& p : test::sweep()) {
      if (n == 8 && !(p.B == 1 && p.d == 32 && (p.G == 4 || p.G == 2)))
        continue;  // keep np 8 small
      BlockConfig cfg{p.B, p.L, p.d, p.H, p.G, p.i, p.causal};
      if (n == 8) cfg.L = 32;  // zigzag over 8 ranks: L % 16 == 0
      try {
        OdysseusRing::check(cfg, n, T, OdysseusRing::layout_for(cfg));
      } catch (const Error&) {
        continue;
      }
      SCOPED_TRACE("T " + std::to_string(T) + " R " + std::to_string(n / T) + " " +
                   test::shape_name(p));
      OdysseusRing s(cfg, *world, T);
      EXPECT_EQ(s.layout(), p.causal ? TokenLayout::zigzag : TokenLayout::contiguous);
      EXPECT_EQ(s.describe_mesh(), "tp=" + std::to_string(T) + ",ring=" + std::to_string(n / T));
      test::check_against_block(s);
      ++ran;
    }
  }
  EXPECT_GT(ran, 0);
}

// Other layouts through the factory (stripe; contiguous with causal; zigzag without).
TEST(OdysseusRing, LayoutsThroughFactory) {
  auto world = backends::create_world(ody::test::backend_name());
  const int n = world->size();
  if (n == 8 || 32 % n != 0) GTEST_SKIP() << "run at np 1, 2, 4 (d = 32 sharded over N)";
  const BlockConfig base{1, 24, 32, 4, 2, 48, true};
  for (int T : divisors(n)) {
    if (2 % T != 0 && T != 1) continue;  // G = 2 kv heads sharded over tp
    StrategyOptions o;
    o.mesh = {{"tp", T}, {"ring", n / T}};
    for (auto lay : {TokenLayout::stripe, TokenLayout::contiguous, TokenLayout::zigzag})
      for (bool causal : {true, false}) {
        BlockConfig cfg = base;
        cfg.causal = causal;
        o.layout = lay;
        SCOPED_TRACE("T " + std::to_string(T) + " " + std::string(to_string(lay)) +
                     (causal ? " causal" : " full"));
        auto s = make_strategy("odysseus-ring", cfg, *world, o);
        EXPECT_EQ(s->layout(), lay);
        test::check_against_block(*s);
      }
  }
}

TEST(OdysseusRing, RejectsInvalidSettings) {
  auto world = backends::create_world(ody::test::backend_name());
  const int n = world->size();
  auto message = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  auto m = message([&] { OdysseusRing(BlockConfig{1, 3, 32, 4, 4, 48, true}, *world, 1); });
  EXPECT_NE(m.find("L % (2N) == 0"), std::string::npos) << m;
  if (n > 1)
    EXPECT_THROW(OdysseusRing(BlockConfig{1, 4 * n + 1, 32, 4, 4, 48, false}, *world, n), Error);
  m = message([] {
    OdysseusRing::check(BlockConfig{1, 32, 32, 4, 2, 48, true}, 8, 4, TokenLayout::zigzag);
  });
  EXPECT_NE(m.find("G % T == 0"), std::string::npos) << m;
  EXPECT_NE(m.find("nearest valid G: 4"), std::string::npos) << m;
  EXPECT_NE(m.find("valid meshes for N = 8, H = 4, G = 2: tp=1,ring=8, tp=2,ring=4"),
            std::string::npos)
      << m;
  m = message([] {
    OdysseusRing::check(BlockConfig{1, 32, 32, 4, 4, 44, true}, 8, 2, TokenLayout::zigzag);
  });
  EXPECT_NE(m.find("i % N == 0"), std::string::npos) << m;
  EXPECT_NE(m.find("40 or 48"), std::string::npos) << m;
  const BlockConfig cfg{1, 8 * n, 32, 4, 4, 48, true};
  StrategyOptions o;
  o.weights = WeightMode::replicated;
  m = message([&] { make_strategy("odysseus-ring", cfg, *world, o); });
  EXPECT_NE(m.find("zero3_mlp"), std::string::npos) << m;
  EXPECT_NE(m.find("replicated"), std::string::npos) << m;
}

}  // namespace
}  // namespace ody::strategies
