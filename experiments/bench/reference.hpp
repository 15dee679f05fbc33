#pragma once
// ody-bench's inputs (seeded, or loaded with --load) and the single-rank block on rank 0:
// the outputs --check compares with, its time (--baseline) and its peak memory.
#include "experiments/bench/options.hpp"
#include "experiments/common/harness.hpp"
#include "experiments/common/progress.hpp"
#include "layers/block.hpp"
#include "layers/views.hpp"

namespace ody::experiments::bench {

// The inputs every rank holds in full.
struct Inputs {
  layers::Array3 x, dy;
  layers::BlockWeights w;
};
Inputs make_inputs(const Options& o, const layers::BlockConfig& cfg);

struct Reference {
  layers::Array3 y, dx;  // rank 0 only
  layers::BlockGrads g;
  double ms = -1, peak = -1;  // < 0: not run; broadcast to every rank
  double peak_expected = 0;
};
// Runs the single-rank block on rank 0 when --check or --baseline (warm-up and timed
// iterations of -w/-n), dumps its outputs with --dump. Collective (broadcasts ms, peak).
Reference run_reference(const Options& o, const layers::BlockConfig& cfg, const Inputs& in,
                        Session& s, Progress& progress);

}  // namespace ody::experiments::bench
