#pragma once
// ody-commbench --tune FILE: for every collective and size of the sweep, each algorithm the
// measured communicator has for it (comm/algorithm.hpp), timed in alternating rounds; the
// fastest by the slowest rank's median wins. Consecutive sizes with the same winner form
// one rule (up to the largest of them; the last rule covers every larger size). Writes the
// table (backends/tuning.hpp) and applies it to the communicator, so the sweep that
// follows runs with it. Collective.
#include <memory>
#include <string>
#include <vector>

#include "experiments/commbench/collectives.hpp"
#include "experiments/commbench/sweep.hpp"

namespace ody::experiments::commbench {

void run_tune(const std::vector<std::unique_ptr<Collective>>& ops, const Sweep& sw, Session& s,
              const std::string& file);

}  // namespace ody::experiments::commbench
