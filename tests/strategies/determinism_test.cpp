// Determinism: the same inputs, world size, mesh, backend and algorithms give bitwise
// identical outputs and weight gradients, run after run. Every strategy at 2 and 4 ranks on
// the MPI backend, with its default algorithms and with the project's own schedules forced
// (ring, pairwise, binomial), each built twice from scratch and run twice per build.
//
// What keeps it so: every reduction's order is fixed by its algorithm, not by message
// arrival (the ring reduce-scatter combines chunk k of block j with the same partial sum
// whichever chunk lands first; each element is combined once per step), OpenMPI's tuned
// collectives pick their algorithm from the message size and communicator size only, and
// the attention merge of the rings sums partials in ring order. Choices that would break
// it, which the project does not make: reducing in arrival order (any-source receives),
// atomics in a kernel, or a tuned table that differs between runs (ODY_TUNE_FILE pins it).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "backends/registry.hpp"
#include "strategies/factory.hpp"
#include "strategy_check.hpp"

namespace ody::strategies {
namespace {

using namespace layers;

struct Outputs {
  std::vector<float> y, dx, grads;
};

Outputs run_once(Strategy& s, const BlockWeights& w, const Array3& x, const Array3& dy) {
  const BlockConfig c = s.config();
  const int n = s.comm().size();
  const std::int64_t Ll = c.L / n;
  Array3 xl("xl", c.B, Ll, c.d), dyl("dyl", c.B, Ll, c.d), yl("yl", c.B, Ll, c.d),
      dxl("dxl", c.B, Ll, c.d);
  shard(s.layout(), x.data(), xl.data(), c.B, c.L, c.d, n, s.layout_rank());
  shard(s.layout(), dy.data(), dyl.data(), c.B, c.L, c.d, n, s.layout_rank());
  s.set_weights(w);
  s.forward(yl, xl);
  s.backward(dxl, dyl);
  BlockGrads g(c);
  s.gather_grads(g);
  Outputs o{{yl.data(), yl.data() + yl.size()}, {dxl.data(), dxl.data() + dxl.size()}, {}};
  for (const auto& t : g.tensors()) o.grads.insert(o.grads.end(), t.data, t.data + t.size());
  return o;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(Determinism, EveryStrategyBitwiseRunToRun) {
  auto world = backends::create_world("mpi");
  const int n = world->size();
  if (n != 2 && n != 4) GTEST_SKIP() << "runs at 2 and 4 ranks";
  // Weights of about 70 K floats: the gradient all-reduce and the ZeRO-3 gathers are above
  // the 64 KiB from which the MPI backend's default runs the ring.
  const BlockConfig c{1, 64, 64, 8, 8, 96, true};
  BlockWeights w(c);
  init_block_weights(w, c, 7);
  const Array3 x = make_block_input(c, 7), dy = make_block_dy(c, 7);
  int compared = 0;
  for (const std::vector<std::string>& algos :
       {std::vector<std::string>{}, std::vector<std::string>{"ring", "pairwise", "binomial"}})
    for (const auto& name : strategy_names())
      for (const auto mode : allowed_weight_modes(name)) {
        SCOPED_TRACE(name + " " + std::string(to_string(mode)) +
                     (algos.empty() ? " default algorithms" : " own algorithms"));
        world->force_algorithms(algos);
        StrategyOptions o;
        o.weights = mode;
        Outputs first;
        for (int build = 0; build < 2; ++build) {
          auto s = make_strategy(name, c, *world, o);
          for (int run = 0; run < 2; ++run) {
            const Outputs got = run_once(*s, w, x, dy);
            if (build == 0 && run == 0) {
              first = got;
              continue;
            }
            ++compared;
            EXPECT_TRUE(same_bits(got.y, first.y)) << "y, build " << build << " run " << run;
            EXPECT_TRUE(same_bits(got.dx, first.dx)) << "dx, build " << build << " run " << run;
            EXPECT_TRUE(same_bits(got.grads, first.grads))
                << "weight gradients, build " << build << " run " << run;
          }
        }
      }
  // Every (strategy, weight mode) pair, two algorithm choices, 3 comparisons each.
  int pairs = 0;
  for (const auto& name : strategy_names()) pairs += int(allowed_weight_modes(name).size());
  EXPECT_GE(pairs, 9);
  EXPECT_EQ(compared, pairs * 2 * 3);
}

}  // namespace
}  // namespace ody::strategies
