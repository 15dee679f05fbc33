#include "topology/subgroups.hpp"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

namespace ody::topology {
namespace {

template <class Key>
std::vector<std::vector<int>> group_by(const Cluster& c, Key key) {
  std::map<decltype(key(c.ranks[0])), std::vector<int>> groups;
  for (const RankPlace& p : c.ranks) groups[key(p)].push_back(p.rank);
  std::vector<std::vector<int>> out;
  for (auto& [k, v] : groups) out.push_back(std::move(v));
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.front() < b.front(); });
  return out;
}

}  // namespace

Subgroups subgroups(const Cluster& c) {
  Subgroups s;
  if (c.ranks.empty()) return s;
  s.node = group_by(c, [](const RankPlace& p) { return p.node; });
  for (const auto& g : s.node) s.node_leaders.push_back(g.front());
  s.numa = group_by(c, [](const RankPlace& p) {
    // Unknown NUMA: keyed by the rank itself so the rank stands alone.
    return std::tuple<int, int, int>(p.node, p.numa, p.numa >= 0 ? -1 : p.rank);
  });
  std::vector<std::vector<int>> domains;
  for (const Node& n : c.nodes) domains.push_back(n.nvlink_domains());
  s.nvlink = group_by(c, [&](const RankPlace& p) {
    if (p.gpu < 0 || c.nodes[p.node].nvlink_GBps.empty())
      return std::tuple<int, int, int>(p.node, -1, p.rank);
    bool has_link = false;
    for (int b = 0; b < c.nodes[p.node].gpu_count(); ++b)
      has_link |= c.nodes[p.node].nvlink(p.gpu, b) > 0;
    if (!has_link) return std::tuple<int, int, int>(p.node, -1, p.rank);
    return std::tuple<int, int, int>(p.node, domains[p.node][p.gpu], -1);
  });
  // A rail is one NIC index across nodes (a rail-optimised fabric puts NIC k of every node
  // on leaf switch k), so ranks are keyed by the NIC placement chose for them, and where
  // several ranks of a node share a NIC, by their order among those: at most one rank per
  // node in each rail. Without NICs (nic -1) this is the local rank.
  std::map<std::pair<int, int>, int> sharing;  // (node, nic) -> ranks seen so far
  std::vector<int> order(c.ranks.size());
  for (const RankPlace& p : c.ranks) order[p.rank] = sharing[{p.node, p.nic}]++;
  s.rail =
      group_by(c, [&](const RankPlace& p) { return std::pair<int, int>(p.nic, order[p.rank]); });
  return s;
}

}  // namespace ody::topology
