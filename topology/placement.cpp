#include "topology/placement.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include "base/error.hpp"

namespace ody::topology {
namespace {

// Lower = placed on faster links (varies fastest over node-major ranks).
int priority(const std::string& name) {
  if (name == "ulysses" || name == "tp" || name == "inner") return 0;
  if (name == "ring" || name == "outer") return 1;
  return 2;  // dp
}

bool heavy(const std::string& name) { return priority(name) == 0; }

std::string role(const std::string& name) {
  if (name == "ulysses") return "all-to-all heavy -> fastest links";
  if (name == "tp") return "all-gather/reduce-scatter heavy -> fastest links";
  if (name == "inner") return "double ring's window: w-1 of every w k/v hops -> fastest links";
  if (name == "ring")
    return "ring send/recv overlapped with compute -> outside the heavy dimensions";
  if (name == "outer") return "double ring across windows, overlapped with w steps -> outside";
  return "one all-reduce per step -> outermost";
}

std::string join_names(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

std::vector<MeshDim> parse_mesh(const std::string& text) {
  std::vector<MeshDim> mesh;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const size_t eq = item.find('=');
    ODY_REQUIRE(eq != std::string::npos && eq > 0 && eq + 1 < item.size(), "mesh",
                "items name=size separated by commas (ulysses=4,ring=2)", "'", item, "'");
    MeshDim d;
    d.name = item.substr(0, eq);
    const std::string num = item.substr(eq + 1);
    size_t used = 0;
    try {
      d.size = std::stoi(num, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    ODY_REQUIRE(used == num.size() && used > 0, "mesh: " + d.name, "an integer size", "'", num,
                "'");
    mesh.push_back(d);
  }
  ODY_REQUIRE(!mesh.empty(), "mesh", "at least one name=size item", "'", text, "'");
  return mesh;
}

namespace {

int score(const BackendCandidate& c, LinkClass span, bool gpus) {
  return (gpus ? c.gpu_score : c.host_score)[static_cast<std::size_t>(span)];
}

// The override that applies to `dim`, "" for none; `flag` says where it came from.
const std::string& override_for(const BackendOptions& o, const std::string& dim,
                                std::string& flag) {
  if (auto it = o.per_dim.find(dim); it != o.per_dim.end()) {
    flag = "--backend " + dim + "=" + it->second;
    return it->second;
  }
  flag = "--backend " + o.force;
  return o.force;
}

}  // namespace

std::string choose_backend(LinkClass span, bool gpus, const BackendOptions& o,
                           const std::string& dim) {
  if (o.candidates.empty()) return "";
  std::vector<std::string> usable;
  const BackendCandidate* best = nullptr;
  for (const auto& c : o.candidates) {
    const int s = score(c, span, gpus);
    if (s <= 0) continue;
    usable.push_back(c.name);
    if (!best || s > score(*best, span, gpus)) best = &c;
  }
  std::string flag;
  const std::string& wanted = override_for(o, dim, flag);
  const std::string group = gpus ? "a GPU group over " : "a CPU group over ";
  if (!wanted.empty()) {
    if (std::find(usable.begin(), usable.end(), wanted) != usable.end()) return wanted;
    throw Error(flag,
                "one of the backends available for this group (" + join_names(usable) + ": " +
                    group + std::string(abbreviation(span)) + ")",
                "'" + wanted + "'");
  }
  ODY_REQUIRE(best, "backend",
              "a backend that can serve " + group + std::string(abbreviation(span)), "none of ",
              o.candidates.size(), " candidates");
  return best->name;
}

std::string backend_reason(LinkClass span, bool gpus, const BackendOptions& o,
                           const std::string& dim) {
  std::string flag;
  if (!override_for(o, dim, flag).empty()) return "forced by " + flag;
  std::string scores;
  for (const auto& c : o.candidates)
    scores += (scores.empty() ? "" : ", ") + c.name + " " + std::to_string(score(c, span, gpus));
  return "best score of " + scores + " for " + (gpus ? "GPUs over " : "CPUs over ") +
         std::string(abbreviation(span));
}

std::string format_groups(const std::vector<std::vector<int>>& groups, size_t max_groups) {
  std::string out;
  for (size_t g = 0; g < groups.size(); ++g) {
    if (g == max_groups) {
      out += ",... (" + std::to_string(groups.size()) + " groups)";
      break;
    }
    const auto& v = groups[g];
    std::string s;
    for (size_t i = 0; i < v.size();) {
      size_t j = i;
      while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
      if (!s.empty()) s += ",";
      s += std::to_string(v[i]);
      if (j > i) {
        s += '-';
        s += std::to_string(v[j]);
      }
      i = j + 1;
    }
    out += g ? ",{" : "{";
    out += s;
    out += '}';
  }
  return out;
}

Placement place_mesh(const Cluster& cluster, const std::vector<MeshDim>& mesh,
                     const BackendOptions& options) {
  const int world = cluster.world_size();
  ODY_REQUIRE(!mesh.empty(), "mesh", "at least one dimension", "none");
  std::set<std::string> seen;
  long long product = 1;
  std::string sizes;
  for (const MeshDim& d : mesh) {
    ODY_REQUIRE(
        std::find(kMeshDimNames.begin(), kMeshDimNames.end(), d.name) != kMeshDimNames.end(),
        "mesh: dimension name", "one of " + join_names(kMeshDimNames), "'", d.name, "'");
    ODY_REQUIRE(seen.insert(d.name).second, "mesh: dimension name", "each name at most once", "'",
                d.name, "' twice");
    ODY_REQUIRE(d.size >= 1, "mesh: " + d.name, "size >= 1", d.size);
    product *= d.size;
    if (!sizes.empty()) sizes += 'x';
    sizes += std::to_string(d.size);
  }
  ODY_REQUIRE(product == world, "mesh",
              "product of dimension sizes equal to the world size " + std::to_string(world), sizes,
              " = ", product);

  // Ranks in node-major order: blocks of consecutive positions share a node even when
  // the launcher numbered ranks round-robin over nodes.
  std::vector<int> order(world);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    const RankPlace &pa = cluster.ranks[a], &pb = cluster.ranks[b];
    return std::tie(pa.node, pa.local_rank) < std::tie(pb.node, pb.local_rank);
  });

  // Layout: dimensions by priority (heavy first = innermost); ties keep the given order.
  const int nd = static_cast<int>(mesh.size());
  std::vector<int> layout(nd);
  std::iota(layout.begin(), layout.end(), 0);
  std::stable_sort(layout.begin(), layout.end(),
                   [&](int a, int b) { return priority(mesh[a].name) < priority(mesh[b].name); });
  std::vector<long long> stride(nd);
  long long s = 1;
  for (int d : layout) {
    stride[d] = s;
    s *= mesh[d].size;
  }

  Placement pl;
  for (int d : layout) pl.inner_first.push_back(mesh[d]);
  pl.rank_of_index = order;
  pl.coords.assign(world, std::vector<int>(nd, 0));
  for (int pos = 0; pos < world; ++pos)
    for (int d = 0; d < nd; ++d)
      pl.coords[order[pos]][d] = static_cast<int>((pos / stride[d]) % mesh[d].size);

  int max_local = 0;
  for (int n = 0; n < cluster.node_count(); ++n)
    max_local = std::max<int>(max_local, cluster.ranks_on(n).size());

  for (int d = 0; d < nd; ++d) {
    DimPlacement dp;
    dp.name = mesh[d].name;
    dp.size = mesh[d].size;
    for (int pos = 0; pos < world; ++pos) {
      if ((pos / stride[d]) % mesh[d].size != 0) continue;
      std::vector<int> g;
      for (int i = 0; i < mesh[d].size; ++i) g.push_back(order[pos + i * stride[d]]);
      std::sort(g.begin(), g.end());
      dp.groups.push_back(std::move(g));
    }
    std::sort(dp.groups.begin(), dp.groups.end(),
              [](const auto& a, const auto& b) { return a.front() < b.front(); });

    dp.span = {LinkClass::Loc, false};
    dp.estimate = {0.0, 0.0};
    bool first = true, gpus = true;
    auto worse = [](Link a, Link b) {
      return std::make_pair(static_cast<int>(a.cls), a.multi_switch) <
             std::make_pair(static_cast<int>(b.cls), b.multi_switch);
    };
    for (const auto& g : dp.groups) {
      for (int a : g) gpus &= cluster.rank_has_gpu(a);
      for (size_t i = 0; i < g.size(); ++i)
        for (size_t j = i + 1; j < g.size(); ++j) {
          const Link l = cluster.link(g[i], g[j]);
          if (worse(dp.span, l)) dp.span = l;
          const LinkEstimate e = cluster.estimate(g[i], g[j]);
          if (first || e.bandwidth_GBps < dp.estimate.bandwidth_GBps)
            dp.estimate.bandwidth_GBps = e.bandwidth_GBps;
          dp.estimate.latency_us = std::max(dp.estimate.latency_us, e.latency_us);
          first = false;
        }
    }
    if (first) dp.estimate = {0.0, 0.0};  // groups of one: nothing to send
    dp.backend = choose_backend(dp.span.cls, gpus, options, dp.name);
    if (!dp.backend.empty())
      dp.backend_reason = backend_reason(dp.span.cls, gpus, options, dp.name);

    std::ostringstream ex;
    ex << dp.name << "=" << dp.size << ": ranks " << format_groups(dp.groups) << " ";
    if (dp.size == 1) {
      ex << "(trivial: one rank per group, no communication)";
    } else {
      const bool across = dp.span.cls == LinkClass::Network;
      ex << (across ? (cluster.virtual_nodes ? "across (virtual) nodes" : "across nodes")
                    : "inside node")
         << " (";
      if (across)
        ex << "network";
      else if (!gpus)
        ex << "shared memory, " << abbreviation(dp.span);
      else
        ex << describe(dp.span.cls) << ", " << abbreviation(dp.span);
      char est[96];
      std::snprintf(est, sizeof est, ", est %.3g GB/s, %.3g us", dp.estimate.bandwidth_GBps,
                    dp.estimate.latency_us);
      ex << est << "), " << role(dp.name);
      if (heavy(dp.name) && across)
        ex << " (warning: larger than the " << max_local
           << " ranks of a node, so it crosses the network)";
    }
    if (!dp.backend.empty()) ex << "; backend " << dp.backend;
    dp.explanation = ex.str();
    pl.dims.push_back(std::move(dp));
  }
  return pl;
}

}  // namespace ody::topology
