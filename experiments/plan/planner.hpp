#pragma once
// The layout planner: every strategy and every mesh it can take on the cluster (the hybrids'
// inner x outer splits, one per divisor of N), predicted by the cost model (model.hpp) and
// ranked by step time; each mesh a strategy cannot run is kept with the factory's rule.
#include <string>
#include <vector>

#include "experiments/plan/model.hpp"

namespace ody::experiments::plan {

struct Invalid {
  std::string strategy, mesh, rule;
};
struct Ranking {
  std::vector<Prediction> plans;  // best (shortest step) first
  std::vector<Invalid> invalid;
};

Ranking rank_layouts(const Cluster& cluster, const layers::BlockConfig& cfg, std::int64_t layers,
                     const std::vector<std::string>& strategies);

}  // namespace ody::experiments::plan
