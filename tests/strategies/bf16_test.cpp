// Every strategy under Precision::bf16 (bf16 weights and activations, fp32 accumulation,
// bf16 on the wire) against the single-rank bf16 Block, with the derived bf16 tolerance of
// strategy_check.hpp, and its traffic == its bf16 cost() exactly (activations at 2 bytes).
#include <gtest/gtest.h>

#include "backends/registry.hpp"
#include "base/error.hpp"
#include "strategies/factory.hpp"
#include "strategy_check.hpp"
#include "support/test_args.hpp"

namespace ody::strategies {
namespace {

BlockConfig bf16_config(const test::Shape& p) {
  BlockConfig cfg{p.B, p.L, p.d, p.H, p.G, p.i, p.causal};
  cfg.precision = layers::Precision::bf16;
  return cfg;
}

void run_all(const StrategyOptions& options, const std::vector<std::string>& names) {
  auto world = backends::create_world(ody::test::backend_name());
  int ran = 0;
  for (const auto& name : names)
    for (const auto& p : test::sweep()) {
      const BlockConfig cfg = bf16_config(p);
      try {
        check_strategy(name, cfg, world->size(), options);
      } catch (const Error&) {
        continue;  // not valid at this world size (the errors are tested elsewhere)
      }
      SCOPED_TRACE(name + " " + test::shape_name(p));
      auto s = make_strategy(name, cfg, *world, options);
      test::check_against_block(*s);
      ++ran;
    }
  EXPECT_GT(ran, 0);
}

TEST(Bf16, EveryStrategyMatchesBlock) { run_all({}, strategy_names()); }

// ZeRO-3 weights: the weight all-gathers move bf16, the gradient reduce-scatters fp32.
TEST(Bf16, Zero3MatchesBlock) {
  StrategyOptions o;
  o.weights = WeightMode::zero3;
  run_all(o, {"ulysses", "ring", "usp"});
}

// The wire really is bf16: every activation exchange costs half its fp32 bytes, and what
// stays fp32 (gradient reductions, the ring's dk/dv accumulators) does not change.
TEST(Bf16, CostHalvesActivationTraffic) {
  const int n = 4;
  BlockConfig c32{1, 32, 32, 4, 4, 48, true};
  BlockConfig c16 = c32;
  c16.precision = layers::Precision::bf16;
  using K = comm::OpKind;
  const auto f = [&](const char* name, const BlockConfig& c) {
    return strategy_cost(name, c, n, 1);
  };
  const Cost u32 = f("ulysses", c32), u16 = f("ulysses", c16);
  EXPECT_EQ(2 * u16.forward[K::alltoall].bytes_sent, u32.forward[K::alltoall].bytes_sent);
  EXPECT_EQ(2 * u16.backward[K::alltoall].bytes_recv, u32.backward[K::alltoall].bytes_recv);
  EXPECT_EQ(u16.backward[K::allreduce].bytes_sent,
            u32.backward[K::allreduce].bytes_sent);  // fp32 gradients
  const Cost r32 = f("ring", c32), r16 = f("ring", c16);
  EXPECT_EQ(2 * r16.forward[K::send].bytes_sent, r32.forward[K::send].bytes_sent);
  // backward: n-1 bf16 k/v hops (half) + n fp32 accumulator hops (unchanged)
  const std::uint64_t hop = r32.forward[K::send].bytes_sent / (n - 1);
  EXPECT_EQ(r16.backward[K::send].bytes_sent, (n - 1) * hop / 2 + n * hop);
  const Cost t32 = f("tpsp", c32), t16 = f("tpsp", c16);
  EXPECT_EQ(2 * t16.forward[K::allgather].bytes_sent, t32.forward[K::allgather].bytes_sent);
  EXPECT_EQ(t16.forward[K::reducescatter].bytes_sent, t32.forward[K::reducescatter].bytes_sent);
  const Cost o32 = f("odysseus", c32), o16 = f("odysseus", c16);
  EXPECT_EQ(2 * o16.forward[K::allgather].bytes_sent, o32.forward[K::allgather].bytes_sent);
  EXPECT_EQ(o16.backward[K::reducescatter].bytes_sent, o32.backward[K::reducescatter].bytes_sent);
}

}  // namespace
}  // namespace ody::strategies
