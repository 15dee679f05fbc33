#include "experiments/bench/nodes.hpp"

#include <algorithm>

#include "base/error.hpp"
#include "experiments/common/live_cluster.hpp"
#include "strategies/factory.hpp"
#include "topology/cluster.hpp"
#include "topology/placement.hpp"

namespace ody::experiments::bench {

std::vector<int> node_of_rank(const RunInfo& info, int virtual_nodes) {
  const int p = static_cast<int>(info.hosts.size());
  std::vector<int> node(p);
  if (virtual_nodes > 0) {
    for (int r = 0; r < p; ++r) node[r] = r / (p / virtual_nodes);
    return node;
  }
  std::vector<std::string> seen;
  for (int r = 0; r < p; ++r) {
    auto it = std::find(seen.begin(), seen.end(), info.hosts[r]);
    node[r] = static_cast<int>(it - seen.begin());
    if (it == seen.end()) seen.push_back(info.hosts[r]);
  }
  return node;
}

std::vector<std::string> place_runs(Plan& plan, const Options& o, const std::vector<int>& nodes,
                                    Session& s) {
  auto is_hybrid = [](const Planned& r) {
    return r.skip.empty() && (r.name == "usp" || r.name == "odysseus-ring");
  };
  const int node_count = *std::max_element(nodes.begin(), nodes.end()) + 1;
  std::vector<std::string> lines;
  if (node_count > 1 && std::any_of(plan.runs.begin(), plan.runs.end(), is_hybrid)) {
    topology::Cluster cluster = live_cluster(s.world());
    if (o.virtual_nodes > 0) cluster = topology::with_virtual_nodes(cluster, o.virtual_nodes);
    for (auto& r : plan.runs) {
      if (!is_hybrid(r)) continue;
      std::vector<topology::MeshDim> mesh;
      for (const auto& d : strategies::default_mesh(r.name, plan.cfg, s.size(), r.options))
        mesh.push_back({d.name, d.size});
      try {
        const topology::Placement pl = topology::place_mesh(cluster, mesh);
        r.options.placement = pl.rank_of_index;
        for (const auto& d : pl.dims) lines.push_back(r.name + ": " + d.explanation);
      } catch (const ody::Error& e) {
        throw UsageError(e.what());
      }
    }
  }
  for (auto& r : plan.runs) r.options.node_of_rank = nodes;
  return lines;
}

}  // namespace ody::experiments::bench
