#include "strategies/factory.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

#include "backends/hierarchical/communicator.hpp"
#include "base/error.hpp"
#include "strategies/catalog.hpp"

namespace ody::strategies {

namespace {

using catalog::entries;
using catalog::Entry;
using catalog::Resolved;

TokenLayout causal_zigzag(const BlockConfig& cfg) {
  return cfg.causal ? TokenLayout::zigzag : TokenLayout::contiguous;
}

std::string join_names() {
  std::string names;
  for (const auto& e : entries()) names += (names.empty() ? "" : ", ") + std::string(e.name);
  return names;
}

const Entry& find(std::string_view name) {
  for (const auto& e : entries())
    if (e.name == name) return e;
  throw Error("strategy", "one of " + join_names(), ody::detail::cat("'", name, "'"));
}

template <class T>
std::string list(const std::vector<T>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + std::string(to_string(x));
  return s;
}

// Hybrid inner sizes in order of preference (factory.hpp): 1 < I < N closest to sqrt(N)
// (ties: larger), then N, then 1.
std::vector<int> inner_preference(int n) {
  std::vector<int> mid;
  for (int i = 2; i < n; ++i)
    if (n % i == 0) mid.push_back(i);
  const double root = std::sqrt(double(n));
  std::stable_sort(mid.begin(), mid.end(), [&](int a, int b) {
    const double da = std::abs(std::log(a / root)), db = std::abs(std::log(b / root));
    if (std::abs(da - db) > 1e-12) return da < db;
    return a > b;
  });
  mid.push_back(n);
  if (n > 1) mid.push_back(1);
  return mid;
}

Resolved resolve_shape(const Entry& e, const BlockConfig& cfg, int n, const StrategyOptions& o) {
  Resolved r;
  r.mode = o.weights.value_or(e.modes.front());
  if (std::find(e.modes.begin(), e.modes.end(), r.mode) == e.modes.end())
    throw Error(std::string(e.name) + ": weight mode", "one of " + list(e.modes),
                std::string(to_string(r.mode)));
  r.layout = o.layout.value_or(e.layouts.size() > 1 ? causal_zigzag(cfg) : e.layouts.front());
  if (std::find(e.layouts.begin(), e.layouts.end(), r.layout) == e.layouts.end())
    throw Error(std::string(e.name) + ": layout", "one of " + list(e.layouts),
                std::string(to_string(r.layout)));
  r.placement = o.placement;
  r.node_of_rank = o.node_of_rank;
  r.backend_of = o.backend_of;
  if (!o.placement.empty())
    ODY_REQUIRE(static_cast<int>(o.placement.size()) == n, std::string(e.name) + ": placement",
                "one world rank per logical mesh index (" + std::to_string(n) + " entries)",
                o.placement.size(), " entries");
  if (!o.node_of_rank.empty())
    ODY_REQUIRE(static_cast<int>(o.node_of_rank.size()) == n,
                std::string(e.name) + ": node_of_rank",
                "empty or one node id per world rank (" + std::to_string(n) + " entries)",
                o.node_of_rank.size(), " entries");
  if (!e.inner) {  // one-dimensional
    ODY_REQUIRE(o.mesh.empty() || (o.mesh.size() == 1 && o.mesh[0].size == n),
                std::string(e.name) + ": mesh",
                std::string("one dimension of size N = ") + std::to_string(n) +
                    " (2-D meshes: usp = ulysses x ring, odysseus-ring = tp x ring, double-ring = "
                    "inner x outer)",
                format_mesh(o.mesh));
    r.mesh = {{e.kind, n}};
    return r;
  }
  if (!o.mesh.empty()) {
    const bool ok = o.mesh.size() == 2 && o.mesh[0].name == e.inner && o.mesh[1].name == e.outer &&
                    o.mesh[0].size >= 1 && o.mesh[1].size >= 1 &&
                    o.mesh[0].size * o.mesh[1].size == n;
    ODY_REQUIRE(ok, std::string(e.name) + ": mesh",
                std::string(e.inner) + "=I," + e.outer +
                    "=R (inner first) with I·R = N = " + std::to_string(n) + ", e.g. " + e.inner +
                    "=" + std::to_string(inner_preference(n).front()) + "," + e.outer + "=" +
                    std::to_string(n / inner_preference(n).front()),
                format_mesh(o.mesh));
    r.mesh = o.mesh;
    return r;
  }
  auto prefs = inner_preference(n);
  if (e.inner_per_node && !o.node_of_rank.empty()) {
    std::map<int, int> per;  // node -> ranks
    for (int node : o.node_of_rank) ++per[node];
    const int first = per.begin()->second;
    if (per.size() > 1 &&
        std::all_of(per.begin(), per.end(), [&](const auto& kv) { return kv.second == first; }))
      prefs.insert(prefs.begin(), first);
  }
  for (int i : prefs) {
    r.mesh = {{e.inner, i}, {e.outer, n / i}};
    try {
      e.check(cfg, n, r);
      return r;
    } catch (const Error&) {
    }
  }
  r.mesh = {{e.inner, prefs.front()},
            {e.outer, n / prefs.front()}};  // invalid: check() names the rule
  return r;
}

// resolve_shape, and the dimension backends named by the strategy's own dimensions.
Resolved resolve(const Entry& e, const BlockConfig& cfg, int n, const StrategyOptions& o) {
  Resolved r = resolve_shape(e, cfg, n, o);
  std::string names;
  for (const auto& d : r.mesh) names += (names.empty() ? "" : ", ") + d.name;
  for (const auto& [dim, backend] : r.backend_of)
    ODY_REQUIRE(
        std::any_of(r.mesh.begin(), r.mesh.end(), [&](const MeshDim& d) { return d.name == dim; }),
        std::string(e.name) + ": dimension backends",
        "names of its mesh dimensions (" + names + ")", "'", dim, "=", backend, "'");
  return r;
}

int logical_index(const std::vector<int>& placement, int rank) {
  if (placement.empty()) return rank;
  const auto it = std::find(placement.begin(), placement.end(), rank);
  ODY_REQUIRE(it != placement.end(), "placement", "to contain world rank " + std::to_string(rank),
              "a list without it");
  return static_cast<int>(it - placement.begin());
}

}  // namespace

std::vector<std::string> strategy_names() {
  std::vector<std::string> v;
  for (const auto& e : entries()) v.push_back(e.name);
  return v;
}

std::vector<WeightMode> allowed_weight_modes(std::string_view name) { return find(name).modes; }
std::vector<TokenLayout> allowed_layouts(std::string_view name) { return find(name).layouts; }

std::unique_ptr<Strategy> make_strategy(std::string_view name, const BlockConfig& cfg,
                                        comm::Communicator& comm, const StrategyOptions& options) {
  const Entry& e = find(name);
  const Resolved r = resolve(e, cfg, comm.size(), options);
  e.check(cfg, comm.size(), r);
  if (e.inner)
    return e.make(cfg, comm, r);  // hybrids order the world and build their mesh themselves
  // One-dimensional: the world ordered by logical index, made hierarchical when it spans
  // nodes (the same rule as a Mesh dimension). Every rank computes the same node map, so
  // all take the same branch (make_hierarchical is collective).
  DimComms group{ordered_world(comm, r.placement), nullptr};
  if (const auto it = r.backend_of.find(r.mesh[0].name); it != r.backend_of.end()) {
    // The whole world on the dimension's backends, ordered by logical index as run_on.
    require_whole_world(comm, std::string(e.name) + ": dimension backends");
    group = group_on(it->second, 0, logical_index(r.placement, comm.rank()));
  }
  const std::vector<int> nodes = node_of_index(r.node_of_rank, r.placement);
  std::unique_ptr<comm::Communicator> run_on;
  if (!nodes.empty() && two_level(nodes)) {
    run_on = group.flat ? make_two_level(std::move(group), nodes)
                        : backends::hierarchical::make_hierarchical(comm, nodes);
  } else {
    run_on = std::move(group.flat);
  }
  auto s = e.make(cfg, run_on ? *run_on : comm, r);
  if (run_on) s->adopt(std::move(run_on));  // destroyed after the strategy's own members
  return s;
}

void check_strategy(std::string_view name, const BlockConfig& cfg, int n,
                    const StrategyOptions& options) {
  const Entry& e = find(name);
  e.check(cfg, n, resolve(e, cfg, n, options));
}

Cost strategy_cost(std::string_view name, const BlockConfig& cfg, int n, int rank,
                   const StrategyOptions& options) {
  const Entry& e = find(name);
  const Resolved r = resolve(e, cfg, n, options);
  return e.cost(cfg, n, logical_index(r.placement, rank), r);
}

std::vector<MeshDim> default_mesh(std::string_view name, const BlockConfig& cfg, int n,
                                  const StrategyOptions& options) {
  return resolve(find(name), cfg, n, options).mesh;
}

std::string describe_mesh(std::string_view name, const BlockConfig& cfg, int n,
                          const StrategyOptions& options) {
  return format_mesh(default_mesh(name, cfg, n, options));
}

}  // namespace ody::strategies
