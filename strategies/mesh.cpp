#include "strategies/mesh.hpp"

#include <algorithm>

#include "backends/hierarchical/communicator.hpp"
#include "backends/split.hpp"
#include "base/error.hpp"

namespace ody::strategies {

bool two_level(std::span<const int> group_nodes) {
  std::vector<int> distinct(group_nodes.begin(), group_nodes.end());
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  const auto n_nodes = distinct.size();
  return n_nodes > 1 && n_nodes < group_nodes.size() &&
         backends::hierarchical::uniform_nodes(group_nodes);
}

std::vector<int> node_of_index(const std::vector<int>& node_of_rank,
                               const std::vector<int>& placement) {
  if (node_of_rank.empty() || placement.empty()) return node_of_rank;
  ODY_REQUIRE(
      node_of_rank.size() == placement.size(), "node_of_rank",
      "empty or one node id per world rank (" + std::to_string(placement.size()) + " entries)",
      node_of_rank.size(), " entries");
  std::vector<int> out(placement.size());
  for (std::size_t m = 0; m < placement.size(); ++m) {
    const int r = placement[m];
    ODY_REQUIRE(r >= 0 && r < static_cast<int>(node_of_rank.size()), "placement",
                "world ranks in [0, " + std::to_string(node_of_rank.size() - 1) + "]", r);
    out[m] = node_of_rank[static_cast<std::size_t>(r)];
  }
  return out;
}

void require_whole_world(const comm::Communicator& world, const std::string& where) {
  ODY_REQUIRE(
      world.size() == backends::world_size(), where,
      "a world over every rank of MPI_COMM_WORLD (" + std::to_string(backends::world_size()) + ")",
      world.size(), " ranks");
}

DimSource dims_on_backends(const std::map<std::string, std::string>& backend_of,
                           comm::Communicator& world) {
  if (backend_of.empty()) return {};
  require_whole_world(world, "dimension backends");
  return [backend_of, &world](const MeshDim& dim, int color, int key) {
    const auto it = backend_of.find(dim.name);
    return it == backend_of.end() ? DimComms{world.split(color, key), nullptr}
                                  : group_on(it->second, color, key);
  };
}

DimComms group_on(const std::string& backends, int color, int key) {
  const auto plus = backends.find('+');
  if (plus == std::string::npos) return {backends::create_split(backends, color, key), nullptr};
  return {backends::create_split(backends.substr(0, plus), color, key),
          backends::create_split(backends.substr(plus + 1), color, key)};
}

std::unique_ptr<comm::Communicator> make_two_level(
    DimComms comms, std::span<const int> group_nodes,
    std::shared_ptr<backends::hierarchical::ProgressGroup> progress) {
  if (!comms.inter)
    return backends::hierarchical::make_hierarchical(std::move(comms.flat), group_nodes, {},
                                                     std::move(progress));
  auto h = backends::hierarchical::make_hierarchical(*comms.flat, *comms.inter, group_nodes, {},
                                                     std::move(progress));
  h->adopt_level_world(std::move(comms.flat));
  h->adopt_level_world(std::move(comms.inter));
  return h;
}

Mesh::Mesh(comm::Communicator& world, std::vector<MeshDim> dims, std::vector<int> placement,
           std::vector<int> node_of_rank, const DimSource& source)
    : world_(&world), dims_(std::move(dims)) {
  const int p = world.size();
  ODY_REQUIRE(!dims_.empty(), "Mesh: dims", "at least one dimension", "none");
  std::int64_t prod = 1;
  std::string listing;
  for (std::size_t k = 0; k < dims_.size(); ++k) {
    ODY_REQUIRE(dims_[k].size >= 1, "Mesh: dims[" + dims_[k].name + "].size", "a size >= 1",
                dims_[k].size);
    for (std::size_t j = 0; j < k; ++j)
      ODY_REQUIRE(dims_[j].name != dims_[k].name, "Mesh: dims", "distinct names",
                  "'" + dims_[k].name + "' twice");
    prod *= dims_[k].size;
    listing += (k ? " x " : "") + dims_[k].name + "=" + std::to_string(dims_[k].size);
  }
  ODY_REQUIRE(prod == p, "Mesh: dims",
              "the product of the dimension sizes to equal the world size " + std::to_string(p),
              listing, " = ", prod);
  if (placement.empty()) {
    index_ = world.rank();
  } else {
    ODY_REQUIRE(static_cast<int>(placement.size()) == p, "Mesh: placement",
                "one world rank per logical index (" + std::to_string(p) + " entries)",
                placement.size());
    std::vector<int> sorted = placement;
    std::sort(sorted.begin(), sorted.end());
    for (int m = 0; m < p; ++m)
      ODY_REQUIRE(sorted[m] == m, "Mesh: placement", "a permutation of 0.." + std::to_string(p - 1),
                  "a missing or repeated rank near ", m);
    index_ = static_cast<int>(std::find(placement.begin(), placement.end(), world.rank()) -
                              placement.begin());
  }
  ODY_REQUIRE(node_of_rank.empty() || static_cast<int>(node_of_rank.size()) == p,
              "Mesh: node_of_rank",
              "empty or one node id per world rank (" + std::to_string(p) + " entries)",
              node_of_rank.size(), " entries");
  coords_.resize(dims_.size());
  int stride = 1;
  for (std::size_t k = 0; k < dims_.size(); ++k) {
    coords_[k] = (index_ / stride) % dims_[k].size;
    stride *= dims_[k].size;
  }
  // Every rank splits once per dimension in the same order (split is collective).
  stride = 1;
  for (std::size_t k = 0; k < dims_.size(); ++k) {
    const int color = index_ - coords_[k] * stride;  // the index with coordinate k zeroed
    DimComms group =
        source ? source(dims_[k], color, coords_[k]) : DimComms{world.split(color, coords_[k]), {}};
    bool two_level = false;
    if (!node_of_rank.empty()) {
      // The node of each member of this group, in group rank (= coordinate) order.
      std::vector<int> group_nodes(dims_[k].size);
      for (int c = 0; c < dims_[k].size; ++c) {
        const int m = color + c * stride;
        group_nodes[c] = node_of_rank[placement.empty() ? m : placement[m]];
      }
      // Every member of the group computes the same answer, so the group splits together.
      two_level = strategies::two_level(group_nodes);
      if (two_level) {
        if (!progress_) progress_ = backends::hierarchical::make_progress_group();
        comms_.push_back(make_two_level(std::move(group), group_nodes, progress_));
      }
    }
    if (!two_level) comms_.push_back(std::move(group.flat));  // (a flat dimension's inter unused)
    hier_.push_back(two_level);
    stride *= dims_[k].size;
  }
}

int Mesh::dim_index(std::string_view name) const {
  std::string names;
  for (std::size_t k = 0; k < dims_.size(); ++k) {
    if (dims_[k].name == name) return static_cast<int>(k);
    names += (k ? ", " : "") + dims_[k].name;
  }
  throw Error("Mesh: dimension name", "one of " + names, "'" + std::string(name) + "'");
}

}  // namespace ody::strategies
