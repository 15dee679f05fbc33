#pragma once
// The checks every context-parallel strategy (strategies/context_parallel.hpp) runs against
// the single-rank Block (strategy_check.hpp), through the factory by name: the sweep
// (G = H, H/2, 1; causal and not; B > 1) in the default layout and weights, the other
// layouts, ZeRO-3 weights. Each test file calls these for its strategy.
#include <gtest/gtest.h>

#include <string>

#include "backends/registry.hpp"
#include "base/error.hpp"
#include "strategies/factory.hpp"
#include "strategy_check.hpp"
#include "support/test_args.hpp"

namespace ody::strategies::test {

// Runs `name` on every sweep shape it accepts at this world size; returns how many ran.
inline int check_sweep(const std::string& name, StrategyOptions o = {}) {
  auto world = backends::create_world(ody::test::backend_name());
  int ran = 0;
  for (const auto& p : sweep()) {
    const BlockConfig cfg{p.B, p.L, p.d, p.H, p.G, p.i, p.causal};
    try {
      check_strategy(name, cfg, world->size(), o);
    } catch (const Error&) {
      continue;
    }
    SCOPED_TRACE(name + " " + shape_name(p));
    auto s = make_strategy(name, cfg, *world, o);
    if (o.weights) EXPECT_EQ(s->weight_mode(), *o.weights);
    check_against_block(*s);
    ++ran;
  }
  return ran;
}

// Stripe (causal and not) and contiguous with causal: the position-masked kernel without
// the zigzag half-block selection.
inline void check_other_layouts(const std::string& name, StrategyOptions o = {}) {
  auto world = backends::create_world(ody::test::backend_name());
  for (auto lay : {TokenLayout::stripe, TokenLayout::contiguous})
    for (bool causal : {true, false}) {
      const BlockConfig cfg{1, 24, 32, 4, 2, 48, causal};
      SCOPED_TRACE(name + " " + std::string(to_string(lay)) + (causal ? " causal" : " full"));
      o.layout = lay;
      try {
        check_strategy(name, cfg, world->size(), o);
      } catch (const Error&) {
        continue;  // e.g. a window that does not divide this world size
      }
      auto s = make_strategy(name, cfg, *world, o);
      EXPECT_EQ(s->layout(), lay);
      check_against_block(*s);
    }
}

}  // namespace ody::strategies::test
