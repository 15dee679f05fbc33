#pragma once
// One strategy measured as ody-bench runs it: built on the world, given this rank's shard
// of the inputs, warmed up, timed (forward and backward separately, between barriers),
// its traffic checked against its cost() on every rank, its peak memory, and with
// --check / --dump its full outputs and gradients compared / written.
#include <string>

#include "comm/traffic.hpp"
#include "experiments/bench/options.hpp"
#include "experiments/bench/reference.hpp"
#include "strategies/layout.hpp"

namespace ody::experiments::bench {

struct Result {
  std::string name, mesh;
  strategies::TokenLayout layout{};
  std::string weights;
  double fwd_ms = 0, bwd_ms = 0, exposed_ms = 0, peak_bytes = 0;
  double peak_expected = 0;        // expected_peak_bytes()
  comm::TrafficSnapshot per_iter;  // measured on rank 0, one forward + one backward
  comm::TrafficSnapshot expected;  // rank 0's cost formula
  bool bytes_match = true;         // on every rank
  double max_rel_err = -1;         // < 0: not checked
  double attn_imbalance = 1;       // max / mean over ranks of Strategy::attention_pairs()
};

// Collective over the world. Prints a '# two-level' line per hierarchical dimension.
Result measure(const Planned& planned, const layers::BlockConfig& cfg, const Options& o,
               const Inputs& in, const Reference& ref, Session& s, Progress& progress);

}  // namespace ody::experiments::bench
