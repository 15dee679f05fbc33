#pragma once
// Where ody-bench's ranks are: the node of each world rank (distinct host names, or K
// pretend nodes of contiguous ranks with --virtual-nodes), the placement of the hybrids'
// meshes on that cluster (inner dimension inside nodes, topology/placement.hpp) and the
// backend of every run's mesh dimensions (--backend, experiments/common/backend_choice.hpp).
#include <string>
#include <vector>

#include "experiments/bench/options.hpp"
#include "experiments/common/harness.hpp"

namespace ody::experiments::bench {

std::vector<int> node_of_rank(const RunInfo& info, int virtual_nodes);

// One mesh dimension of one planned run: the link class its groups span, its backend,
// why, and whether it runs two-level (spans nodes with more than one rank on each).
struct DimChoice {
  std::string strategy, name;
  int size = 1;
  std::string link, backend, reason;
  bool two_level = false;
};

struct Placed {
  std::vector<std::string> lines;  // '# placement' lines (hybrids on more than one node)
  std::vector<DimChoice> dims;     // every runnable strategy's dimensions
};

// Sets every planned run's node_of_rank, for the hybrids on more than one node its
// placement, and with --backend auto or DIM=NAME the backend of each dimension whose
// choice differs from the world's (StrategyOptions::backend_of). The cluster is the same
// on every rank, so a mesh that cannot be placed or a backend that cannot serve a
// dimension is a UsageError everywhere. Collective.
Placed place_runs(Plan& plan, const Options& o, const std::vector<int>& nodes, Session& s);

}  // namespace ody::experiments::bench
