// USP (Ulysses x Ring) against the single-rank Block (strategy_check.hpp) on every mesh
// U x R of the world size (1x1; 1x2, 2x1; 1x4, 2x2, 4x1; at 8: 2x4 and 4x2 at a small
// shape), causal (zigzag) and not, G = H, H/2, 1 where valid; traffic == cost() exactly.
#include <gtest/gtest.h>

#include "backends/registry.hpp"
#include "base/error.hpp"
#include "strategies/factory.hpp"
#include "strategies/ring_attention.hpp"
#include "strategies/usp.hpp"
#include "strategy_check.hpp"
#include "support/test_args.hpp"

namespace ody::strategies {
namespace {

std::vector<int> divisors(int n) {
  std::vector<int> v;
  for (int u = 1; u <= n; ++u)
    if (n % u == 0) v.push_back(u);
  return v;
}

// The layout arithmetic USP relies on: with the world zigzag over N = U·R logical indices
// (ring the outer dimension), ulysses group rho holds exactly ring chunks rho and 2R-1-rho.
TEST(Usp, ZigzagGroupsHoldRingChunks) {
  for (int U : {1, 2, 3, 4})
    for (int R : {1, 2, 3, 4}) {
      const int n = U * R;
      const std::int64_t L = 2 * n * 3, rc = L / (2 * R);
      for (int rho = 0; rho < R; ++rho) {
        std::vector<int> count(2 * R, 0);
        for (int s = 0; s < U; ++s)
          for (auto p : local_positions(TokenLayout::zigzag, L, n, s + U * rho)) ++count[p / rc];
        for (int k = 0; k < 2 * R; ++k)
          EXPECT_EQ(count[k], (k == rho || k == 2 * R - 1 - rho) ? rc : 0)
              << "U " << U << " R " << R << " group " << rho << " ring chunk " << k;
      }
      EXPECT_NO_THROW(group_rows(TokenLayout::zigzag, L, U, R, true));
    }
}

TEST(Usp, MatchesBlockOnEveryMesh) {
  auto world = backends::create_world(ody::test::backend_name());
  const int n = world->size();
  int ran = 0;
  for (int U : divisors(n)) {
    for (const auto& p : test::sweep()) {
      if (n == 8 && !(p.B == 1 && p.d == 32 && (p.G == 4 || p.G == 1)))
        continue;  // keep np 8 small
      BlockConfig cfg{p.B, p.L, p.d, p.H, p.G, p.i, p.causal};
      if (n == 8) cfg.L = 32;  // zigzag over 8 ranks: L % 16 == 0
      try {
        Usp::check(cfg, n, U, Usp::layout_for(cfg));
      } catch (const Error&) {
        continue;
      }
      SCOPED_TRACE("U " + std::to_string(U) + " R " + std::to_string(n / U) + " " +
                   test::shape_name(p));
      Usp s(cfg, *world, U);
      EXPECT_EQ(s.layout(), p.causal ? TokenLayout::zigzag : TokenLayout::contiguous);
      EXPECT_EQ(s.describe_mesh(),
                "ulysses=" + std::to_string(U) + ",ring=" + std::to_string(n / U));
      test::check_against_block(s);
      ++ran;
    }
  }
  EXPECT_GT(ran, 0);
}

// Other layouts (stripe; contiguous with causal; zigzag without) and ZeRO-3 weights, on
// the 2-D meshes, built through the factory.
TEST(Usp, LayoutsAndZero3ThroughFactory) {
  auto world = backends::create_world(ody::test::backend_name());
  const int n = world->size();
  const BlockConfig base{1, n == 8 ? 32 : 24, 32, 4, 2, 48, true};
  for (int U : divisors(n)) {
    if (4 % U != 0) continue;
    StrategyOptions o;
    o.mesh = {{"ulysses", U}, {"ring", n / U}};
    for (auto lay : {TokenLayout::stripe, TokenLayout::contiguous, TokenLayout::zigzag})
      for (bool causal : {true, false}) {
        if (n == 8 && lay == TokenLayout::zigzag) continue;
        BlockConfig cfg = base;
        cfg.causal = causal;
        o.layout = lay;
        SCOPED_TRACE("U " + std::to_string(U) + " " + std::string(to_string(lay)) +
                     (causal ? " causal" : " full"));
        auto s = make_strategy("usp", cfg, *world, o);
        EXPECT_EQ(s->layout(), lay);
        test::check_against_block(*s);
      }
    o.layout.reset();
    o.weights = WeightMode::zero3;
    SCOPED_TRACE("zero3 U " + std::to_string(U));
    auto s = make_strategy("usp", base, *world, o);
    EXPECT_EQ(s->weight_mode(), WeightMode::zero3);
    test::check_against_block(*s);
    o.weights.reset();
  }
}

TEST(Usp, RejectsInvalidSettings) {
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
  // Zigzag needs L % (2N): an odd L never divides; L = 7N only for N | L.
  auto m = message([&] { Usp(BlockConfig{1, 3, 32, 4, 4, 48, true}, *world, 1); });
  EXPECT_NE(m.find("L % (2N) == 0"), std::string::npos) << m;
  if (n > 1) EXPECT_THROW(Usp(BlockConfig{1, 7 * n, 32, 4, 4, 48, true}, *world, 1), Error);
  if (n > 1) EXPECT_THROW(Usp(BlockConfig{1, 4 * n + 1, 32, 4, 4, 48, false}, *world, n), Error);
  // Heads: H % U, and G % U or U % G (pure checks, any world size).
  m = message([] {
    Usp::check(BlockConfig{1, 48, 48, 6, 6, 48, true}, 8, 4, TokenLayout::zigzag);
  });
  EXPECT_NE(m.find("H % U == 0"), std::string::npos) << m;
  EXPECT_NE(m.find("4 or 8"), std::string::npos) << m;
  m = message([] {
    Usp::check(BlockConfig{1, 48, 96, 12, 6, 48, true}, 8, 4, TokenLayout::zigzag);
  });
  EXPECT_NE(m.find("U % G == 0"), std::string::npos) << m;
  EXPECT_NE(m.find("valid meshes for N = 8, H = 12, G = 6: ulysses=1,ring=8, ulysses=2,ring=4"),
            std::string::npos)
      << m;
  m = message([] {
    Usp::check(BlockConfig{1, 48, 32, 4, 4, 48, true}, 8, 3, TokenLayout::zigzag);
  });
  EXPECT_NE(m.find("dividing N = 8"), std::string::npos) << m;
  // Weight modes and meshes through the factory.
  const BlockConfig cfg{1, 8 * n, 32, 4, 4, 48, true};
  StrategyOptions o;
  o.weights = WeightMode::zero3_mlp;
  m = message([&] { make_strategy("usp", cfg, *world, o); });
  EXPECT_NE(m.find("replicated, zero3"), std::string::npos) << m;
  o = {};
  o.mesh = {{"tp", n}, {"ring", 1}};
  m = message([&] { make_strategy("usp", cfg, *world, o); });
  EXPECT_NE(m.find("ulysses=I,ring=R"), std::string::npos) << m;
}

}  // namespace
}  // namespace ody::strategies
