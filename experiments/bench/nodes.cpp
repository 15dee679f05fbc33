#include "experiments/bench/nodes.hpp"

#include <algorithm>

#include "backends/registry.hpp"
#include "base/error.hpp"
#include "experiments/common/backend_choice.hpp"
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

Placed place_runs(Plan& plan, const Options& o, const std::vector<int>& nodes, Session& s) {
  const BackendSpec& spec = s.backend();
  const bool several_nodes = *std::max_element(nodes.begin(), nodes.end()) > 0;
  topology::Cluster cluster = live_cluster(s.world());
  if (o.virtual_nodes > 0) cluster = topology::with_virtual_nodes(cluster, o.virtual_nodes);
  const topology::BackendOptions choose = spec.per_dimension()
                                              ? backend_options(spec, backends::available())
                                              : topology::BackendOptions{};
  const std::string world_backend = s.world().info().name;
  Placed out;
  for (auto& r : plan.runs) {
    r.options.node_of_rank = nodes;
    if (!r.skip.empty()) continue;
    const auto dims = strategies::default_mesh(r.name, plan.cfg, s.size(), r.options);
    // The hybrids' inner dimension inside nodes (one-dimensional strategies: one group).
    if (several_nodes && dims.size() > 1 && o.placement == "auto") {
      std::vector<topology::MeshDim> mesh;
      for (const auto& d : dims) mesh.push_back({d.name, d.size});
      try {
        const topology::Placement pl = topology::place_mesh(cluster, mesh, choose);
        r.options.placement = pl.rank_of_index;
        for (const auto& d : pl.dims) out.lines.push_back(r.name + ": " + d.explanation);
      } catch (const ody::Error& e) {
        throw UsageError(e.what());
      }
    }
    // Each dimension's groups as the strategy will build them (logical index m on world
    // rank order[m]), their worst link, and the backend for it.
    std::vector<int> order = r.options.placement;
    if (order.empty())
      for (int m = 0; m < s.size(); ++m) order.push_back(m);
    int stride = 1;
    for (const auto& d : dims) {
      std::vector<std::vector<int>> groups;
      for (int m = 0; m < s.size(); ++m) {
        if ((m / stride) % d.size != 0) continue;
        groups.emplace_back();
        for (int k = 0; k < d.size; ++k) groups.back().push_back(order[m + k * stride]);
      }
      stride *= d.size;
      // The worst link between members, over every group and inside one node.
      topology::Link span{topology::LinkClass::Loc, false}, intra = span;
      bool gpus = true;
      for (const auto& g : groups)
        for (std::size_t a = 0; a < g.size(); ++a) {
          gpus = gpus && cluster.rank_has_gpu(g[a]);
          for (std::size_t b = a + 1; b < g.size(); ++b) {
            const auto cls = cluster.link(g[a], g[b]).cls;
            span.cls = std::max(span.cls, cls);
            if (nodes[g[a]] == nodes[g[b]]) intra.cls = std::max(intra.cls, cls);
          }
        }
      DimChoice c{r.name,     d.name,
                  d.size,     std::string(topology::abbreviation(span.cls)),
                  spec.every, "--backend " + spec.every};
      std::vector<int> group_nodes;
      for (int rank : groups.front()) group_nodes.push_back(nodes[rank]);
      c.two_level = strategies::two_level(group_nodes);
      try {
        if (spec.per_dimension()) {
          c.backend = topology::choose_backend(span.cls, gpus, choose, d.name);
          c.reason = topology::backend_reason(span.cls, gpus, choose, d.name);
          // Two levels, each on the backend of its own links: the intra-node level by the
          // worst link between members on one node, the inter-node level by the network.
          const std::string inner =
              c.two_level ? topology::choose_backend(intra.cls, gpus, choose, d.name) : c.backend;
          if (inner != c.backend) {
            c.reason +=
                "; intra-node level: " + topology::backend_reason(intra.cls, gpus, choose, d.name) +
                " -> " + inner;
            c.backend = inner + "+" + c.backend;
          }
        }
      } catch (const ody::Error& e) {
        throw UsageError(e.what());
      }
      if (c.backend != world_backend) r.options.backend_of[d.name] = c.backend;
      out.dims.push_back(std::move(c));
    }
  }
  return out;
}

}  // namespace ody::experiments::bench
