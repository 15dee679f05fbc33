// The Strategy interface's contract, the same for every strategy (validate-then-dispatch in
// strategies/strategy.cpp): a wrong shape and a backward before its forward are refused
// with the same message form naming the strategy, before anything is sent, and a refused
// call leaves the strategy usable.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends/registry.hpp"
#include "base/error.hpp"
#include "layers/block.hpp"
#include "strategies/factory.hpp"
#include "support/error_of.hpp"
#include "support/test_args.hpp"

namespace ody::strategies {
namespace {

using test::error_of;

TEST(StrategyContract, ShapeAndOrderCheckedAlikeByEveryStrategy) {
  auto world = backends::create_world(ody::test::backend_name());
  const int n = world->size();
  const BlockConfig cfg{1, 32, 32, 4, 4, 48, true};
  const std::int64_t Ll = cfg.L / n;
  const std::string want = "expected [B, L/N, d] = [1, " + std::to_string(Ll) + ", 32]";
  int ran = 0;
  for (const auto& name : strategy_names()) {
    try {
      check_strategy(name, cfg, n);
    } catch (const Error&) {
      continue;  // this world size does not divide the shape for this strategy
    }
    SCOPED_TRACE(name);
    auto s = make_strategy(name, cfg, *world);
    layers::BlockWeights w(cfg);
    layers::init_block_weights(w, cfg, 7);
    s->set_weights(w);
    s->reset_traffic();  // construction and set_weights may communicate
    std::vector<float> x(cfg.B * Ll * cfg.d, 0.25f), y(x.size()), bad((Ll + 1) * cfg.d);
    const Span3<const float> x3(x.data(), cfg.B, Ll, cfg.d);
    const Span3<float> y3(y.data(), cfg.B, Ll, cfg.d);

    EXPECT_EQ(error_of([&] { s->backward(y3, x3); }),
              name +
                  " backward: expected a forward before each backward (backward consumes what "
                  "forward saved), "
                  "found no forward since the last backward");
    EXPECT_EQ(error_of([&] { s->forward(y3, Span3<const float>(bad.data(), 1, Ll + 1, cfg.d)); }),
              name + " forward: x: " + want + ", found [1, " + std::to_string(Ll + 1) + ", 32]");
    EXPECT_EQ(error_of([&] { s->forward(Span3<float>(bad.data(), 1, Ll + 1, cfg.d), x3); }),
              name + " forward: y: " + want + ", found [1, " + std::to_string(Ll + 1) + ", 32]");
    EXPECT_EQ(s->traffic().total().ops, 0u) << "refused calls sent nothing";

    s->forward(y3, x3);
    EXPECT_EQ(error_of([&] { s->backward(y3, Span3<const float>(bad.data(), 1, Ll + 1, cfg.d)); }),
              name + " backward: dy: " + want + ", found [1, " + std::to_string(Ll + 1) + ", 32]");
    s->backward(y3, x3);  // the refused backward left the saved forward in place
    EXPECT_NE(error_of([&] { s->backward(y3, x3); }).find(name + " backward: expected a forward"),
              std::string::npos);
    ++ran;
  }
  EXPECT_GE(ran, 4) << "most strategies run at every tested world size";
}

}  // namespace
}  // namespace ody::strategies
