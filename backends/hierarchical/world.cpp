#include "backends/hierarchical/world.hpp"

#include <unistd.h>

#include <string>
#include <vector>

#include "backends/hierarchical/communicator.hpp"
#include "base/error.hpp"

namespace ody::backends::hierarchical {

namespace {

constexpr const char* kForm = "hier:B or hier:B1+B2, optionally @hosts, @block:Q or @cyclic:K";

int parse_count(std::string_view text, std::string_view spec) {
  int v = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9' || v > 100000) v = -1;
    if (v < 0) break;
    v = v * 10 + (ch - '0');
  }
  if (text.empty() || v < 1)
    throw Error("--backend " + std::string(spec),
                "a positive count after block: or cyclic:", "'" + std::string(text) + "'");
  return v;
}

// Node id of every rank of `world` by NODES.
std::vector<int> node_map(std::string_view nodes, std::string_view spec,
                          comm::Communicator& world) {
  const int p = world.size();
  std::vector<int> node(static_cast<std::size_t>(p));
  const std::string where = "--backend " + std::string(spec);
  if (nodes == "hosts") {
    constexpr int kLen = 64;
    char host[kLen] = {};
    gethostname(host, kLen - 1);
    std::vector<char> all(static_cast<std::size_t>(kLen) * p);
    world.all_gather(comm::ConstBuf{host, kLen, comm::DType::u8},
                     comm::Buf{all.data(), static_cast<std::int64_t>(all.size()), comm::DType::u8});
    std::vector<std::string> seen;
    for (int r = 0; r < p; ++r) {
      const std::string h(&all[static_cast<std::size_t>(r) * kLen]);
      int id = 0;
      while (id < static_cast<int>(seen.size()) && seen[id] != h) ++id;
      if (id == static_cast<int>(seen.size())) seen.push_back(h);
      node[r] = id;
    }
    return node;
  }
  const bool block = nodes.starts_with("block:"), cyclic = nodes.starts_with("cyclic:");
  if (!block && !cyclic) throw Error(where, kForm, "'@" + std::string(nodes) + "'");
  const int k = parse_count(nodes.substr(block ? 6 : 7), spec);
  ODY_REQUIRE(p % k == 0, where,
              std::string(block ? "Q" : "K") + " dividing the world size " + std::to_string(p), k);
  for (int r = 0; r < p; ++r) node[r] = block ? r / k : r % k;
  return node;
}

}  // namespace

std::unique_ptr<comm::Communicator> create_world(
    std::string_view spec,
    const std::function<std::unique_ptr<comm::Communicator>(std::string_view)>& create_level) {
  ODY_REQUIRE(spec.starts_with("hier:"), "--backend", kForm, "'" + std::string(spec) + "'");
  std::string_view levels = spec.substr(5), nodes = "hosts";
  if (const auto at = levels.find('@'); at != std::string_view::npos) {
    nodes = levels.substr(at + 1);
    levels = levels.substr(0, at);
  }
  std::string_view intra_name = levels, inter_name = levels;
  if (const auto plus = levels.find('+'); plus != std::string_view::npos) {
    intra_name = levels.substr(0, plus);
    inter_name = levels.substr(plus + 1);
  }
  if (intra_name.empty() || inter_name.empty() || intra_name.starts_with("hier:") ||
      inter_name.starts_with("hier:"))
    throw Error("--backend", kForm + std::string(" with one-level backends B"),
                "'" + std::string(spec) + "'");
  auto intra_world = create_level(intra_name);
  std::unique_ptr<comm::Communicator> inter_world;
  if (inter_name != intra_name) inter_world = create_level(inter_name);
  const std::vector<int> node = node_map(nodes, spec, *intra_world);
  ODY_REQUIRE(uniform_nodes(node), "--backend " + std::string(spec),
              "the same number of ranks on every node", "nodes of different sizes");
  auto h = make_hierarchical(*intra_world, inter_world ? *inter_world : *intra_world, node,
                             std::string(spec));  // info().name: the name it was created by
  h->adopt_level_world(std::move(intra_world));   // the flat level, borrowed by h
  if (inter_world) h->adopt_level_world(std::move(inter_world));
  return h;
}

}  // namespace ody::backends::hierarchical
