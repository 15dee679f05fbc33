#pragma once
// A named device mesh over a world communicator: ordered dimensions (name, size) whose
// product is the world size, and one sub-communicator per dimension.
//
// Rank placement. Each world rank has a logical mesh index m (default: m = world rank).
// Dimensions are listed INNER FIRST: dims[0] varies fastest, so ranks with consecutive
// logical indices share every coordinate but the first one, i.e. the first-listed
// dimension groups contiguous ranks (put the all-to-all / all-gather heavy dimension
// there: contiguous ranks sit on one node). coord[k] = (m / prod(size[0..k))) % size[k].
//
// Hook for topology-aware placement: `placement` (optional) lists, for logical index
// m = 0..P-1, the world rank that takes it; a topology layer that knows which ranks
// share NVLink supplies it (e.g. the concatenation of its rank groups). Empty means
// identity.
//
// Hierarchical communicators: `node_of_rank` (optional) gives, for each world rank, its
// node id. A dimension whose group spans more than one node with more than one rank
// per node, the same number on each, gets a backends::hierarchical::HierarchicalCommunicator
// (backends/hierarchical/communicator.hpp: intra = the group's ranks on one node, inter = the
// group's ranks with the same local index across nodes); every other dimension gets the plain
// split. Either way comm(name) has the same ranks, order and results, and the same traffic
// counts (a hierarchical communicator counts the logical operation's flat volume;
// docs/traffic.md), so the strategies' cost() formulas hold on both.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "comm/communicator.hpp"

namespace ody::backends::hierarchical {
class ProgressGroup;
}

namespace ody::strategies {

struct MeshDim {
  std::string name;
  int size = 1;
};

// A dimension's group: `flat` over its ranks in coordinate order, and optionally `inter`,
// the same ranks on another backend, for the inter-node level when the dimension runs
// two-level (null: both levels split from flat).
struct DimComms {
  std::unique_ptr<comm::Communicator> flat, inter;
};
// Where a dimension's communicators come from: called by every rank of the mesh's world,
// once per dimension in order, with the (color, key) that world.split would get. Empty:
// world.split.
using DimSource = std::function<DimComms(const MeshDim& dim, int color, int key)>;

// Throws ody::Error naming `where` unless `world` has every rank of MPI_COMM_WORLD (what a
// group created on a backend of its own, over MPI_COMM_WORLD, needs).
void require_whole_world(const comm::Communicator& world, const std::string& where);
// The group of (color, key) over MPI_COMM_WORLD on `backends`: "B" (both levels on B) or
// "B1+B2" (flat and intra-node level on B1, inter-node level on B2), as the registry knows
// the names (backends::create_split). Collective over MPI_COMM_WORLD.
DimComms group_on(const std::string& backends, int color, int key);
// Each dimension named in `backend_of` (dimension name -> "B" or "B1+B2") on its backends
// (group_on); the others split from `world`. Empty map: an empty source. Throws ody::Error
// when the map is not empty and `world` does not span MPI_COMM_WORLD.
DimSource dims_on_backends(const std::map<std::string, std::string>& backend_of,
                           comm::Communicator& world);
// The two-level communicator of a group whose members sit on `group_nodes` (two_level()
// holds), its levels from `comms` (owned by the result). Collective over the group.
std::unique_ptr<comm::Communicator> make_two_level(
    DimComms comms, std::span<const int> group_nodes,
    std::shared_ptr<backends::hierarchical::ProgressGroup> progress = nullptr);

// True when a group whose members sit on these nodes (one node id per member) gets a
// hierarchical communicator: more than one node, more than one rank on each, the same
// number on every node. Mesh applies it to each dimension's groups, the strategy factory
// to the world of a one-dimensional strategy.
bool two_level(std::span<const int> group_nodes);

// The node of each logical mesh index m: node_of_rank[placement[m]] (node_of_rank itself
// when placement is empty; empty when node_of_rank is). What a communicator ordered by
// logical index (strategies::ordered_world) needs. Throws ody::Error naming node_of_rank
// when it is neither empty nor one entry per placement entry.
std::vector<int> node_of_index(const std::vector<int>& node_of_rank,
                               const std::vector<int>& placement);

class Mesh {
 public:
  // Collective over `world` (splits one communicator per dimension). Throws ody::Error
  // when the product of sizes differs from world.size(), a size is < 1, a name repeats,
  // placement is not a permutation of 0..P-1, or node_of_rank is neither empty nor one
  // entry per world rank.
  Mesh(comm::Communicator& world, std::vector<MeshDim> dims, std::vector<int> placement = {},
       std::vector<int> node_of_rank = {}, const DimSource& source = {});

  comm::Communicator& world() const { return *world_; }
  int ndims() const { return static_cast<int>(dims_.size()); }
  const std::vector<MeshDim>& dims() const { return dims_; }
  int index() const { return index_; }  // this rank's logical mesh index
  // By name; throws ody::Error listing the names when unknown.
  int dim_index(std::string_view name) const;
  int size(std::string_view name) const { return dims_[dim_index(name)].size; }
  int coord(std::string_view name) const { return coords_[dim_index(name)]; }
  // The communicator of the ranks that share every coordinate but `name`, ordered by
  // the coordinate along `name` (so its rank == coord(name)).
  comm::Communicator& comm(std::string_view name) const { return *comms_[dim_index(name)]; }
  // True when comm(name) is a hierarchical (two-level) communicator.
  bool hierarchical(std::string_view name) const { return hier_[dim_index(name)]; }

 private:
  comm::Communicator* world_;
  std::vector<MeshDim> dims_;
  int index_ = 0;
  std::vector<int> coords_;
  // The dimensions' two-level communicators progress together (one ProgressGroup).
  std::shared_ptr<backends::hierarchical::ProgressGroup> progress_;
  std::vector<std::unique_ptr<comm::Communicator>> comms_;
  std::vector<bool> hier_;
};

}  // namespace ody::strategies
