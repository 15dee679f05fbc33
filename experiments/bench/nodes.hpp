#pragma once
// Where ody-bench's ranks are: the node of each world rank (distinct host names, or K
// pretend nodes of contiguous ranks with --virtual-nodes) and the placement of the hybrids'
// meshes on that cluster (inner dimension inside nodes, topology/placement.hpp).
#include <string>
#include <vector>

#include "experiments/bench/options.hpp"
#include "experiments/common/harness.hpp"

namespace ody::experiments::bench {

std::vector<int> node_of_rank(const RunInfo& info, int virtual_nodes);

// Sets every planned run's node_of_rank and, for the hybrids on more than one node, its
// placement; returns one '# placement' line per placed dimension. The cluster is the same
// on every rank, so a mesh that cannot be placed is a UsageError everywhere. Collective.
std::vector<std::string> place_runs(Plan& plan, const Options& o, const std::vector<int>& nodes,
                                    Session& s);

}  // namespace ody::experiments::bench
