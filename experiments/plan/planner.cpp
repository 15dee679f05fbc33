#include "experiments/plan/planner.hpp"

#include <algorithm>

#include "base/error.hpp"

namespace ody::experiments::plan {

Ranking rank_layouts(const Cluster& cluster, const layers::BlockConfig& cfg, std::int64_t layers,
                     const std::vector<std::string>& names) {
  const int n = cluster.world();
  Ranking out;
  for (const auto& name : names) {
    const auto dims = strategies::default_mesh(name, cfg, n);
    std::vector<std::vector<strategies::MeshDim>> meshes;
    if (dims.size() == 1)
      meshes.push_back({});
    else
      for (int I = 1; I <= n; ++I)
        if (n % I == 0) meshes.push_back({{dims[0].name, I}, {dims[1].name, n / I}});
    for (const auto& mesh : meshes) {
      strategies::StrategyOptions o;
      o.mesh = mesh;
      try {
        out.plans.push_back(predict(cluster, cfg, layers, name, o));
      } catch (const Error& e) {
        out.invalid.push_back(
            {name,
             mesh.empty() ? strategies::describe_mesh(name, cfg, n) : strategies::format_mesh(mesh),
             e.what()});
      }
    }
  }
  std::stable_sort(out.plans.begin(), out.plans.end(),
                   [](const Prediction& a, const Prediction& b) { return a.step_s < b.step_s; });
  return out;
}

}  // namespace ody::experiments::plan
