#pragma once
// Strategies by name (what a tool's --strategy flag selects): "ulysses", "ring", "tpsp",
// "odysseus", the hybrids "usp" (Ulysses x Ring) and "odysseus-ring" (TP-SP attention
// x Ring, ZeRO-3 MLP over all ranks), and the context-parallel "allgather-kv",
// "token-ring" and "double-ring" (the ring on windows: a mesh {{"inner",w},{"outer",N/w}}).
// Unknown names throw ody::Error listing the known ones.
//
// StrategyOptions (every field optional; {} = each strategy's native choices):
//   mesh       the mesh, inner first. Hybrids: {{"ulysses",U},{"ring",R}} (usp) or
//              {{"tp",T},{"ring",R}} (odysseus-ring), U·R = T·R = N. One-dimensional
//              strategies accept only one dimension of size N (its name is not checked:
//              "ulysses", "ring", "tp", "sp" all mean the same group). Empty = default:
//              one-dimensional strategies {{kind, N}}; hybrids the inner size I (U or T)
//              among the divisors of N for which the shape is valid, preferring
//              1 < I < N and, among those, I closest to sqrt(N) with ties going to the
//              larger I (N = 4: 2x2, N = 8: 4x2, N = 16: 4x4, N = 6: 3x2); then I = N,
//              then I = 1 (N = 2: 2x1 when H allows, else 1x2). double-ring first tries
//              w = the ranks per node when node_of_rank has several nodes of equally many
//              ranks (a window per node). default_mesh() and describe_mesh() say what was
//              chosen.
//   weights    WeightMode; empty = native (ulysses, ring, usp: replicated; tpsp:
//              tensor_parallel; odysseus, odysseus-ring: zero3_mlp). allowed_weight_modes().
//   layout     TokenLayout; empty = default (zigzag when causal for ring, usp and
//              odysseus-ring, else contiguous). ulysses, tpsp, odysseus: contiguous only.
//              allowed_layouts().
//   placement  logical mesh index -> world rank (topology::Placement::rank_of_index);
//              empty = identity. The strategy then runs on the world ordered by logical
//              index: Strategy::layout_rank() (== comm().rank()) is the slot of the token
//              layout this rank holds, which differs from the world rank.
//   node_of_rank  world rank -> node id (empty: none; else one entry per world rank).
//              A group that spans more than one node with more than one rank on each,
//              the same number on every node (strategies::two_level, mesh.hpp), runs on a
//              backends::hierarchical::HierarchicalCommunicator (intra-node steps + inter-node
//              steps, backends/hierarchical/communicator.hpp): for the hybrids each such mesh
//              dimension (Mesh), for the one-dimensional strategies the whole world, which the
//              strategy then keeps alive (Strategy::adopt). Results and traffic counts are those of
//              the flat communicator (it counts the logical operations' flat volumes,
//              docs/traffic.md), so cost() is unchanged; Strategy::mesh_comm(dim) says
//              which communicator a dimension got. Under the topology's placement (heavy
//              dimension inside a node) a hybrid's ring is two-level when it has more
//              ranks than there are nodes (e.g. ulysses=2,ring=4 on 2 nodes of 4), flat
//              with one rank per node; a one-dimensional strategy over several nodes of
//              several ranks is always two-level.
// Bad combinations throw ody::Error naming the option, what is allowed and what was found.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strategies/mesh.hpp"
#include "strategies/strategy.hpp"

namespace ody::strategies {

struct StrategyOptions {
  std::vector<MeshDim> mesh;
  std::optional<WeightMode> weights;
  std::optional<TokenLayout> layout;
  std::vector<int> placement;
  std::vector<int> node_of_rank;
  // Mesh dimension name -> backend name (backends/registry.hpp): that dimension's
  // communicator on its own backend over the same ranks (strategies::dims_on_backends;
  // a one-dimensional strategy's whole world). Names must be the strategy's dimensions;
  // needs a world over every rank of MPI_COMM_WORLD. Empty: every dimension a split of
  // the world the strategy is given.
  std::map<std::string, std::string> backend_of;
};

std::vector<std::string> strategy_names();
std::vector<WeightMode> allowed_weight_modes(std::string_view name);
std::vector<TokenLayout> allowed_layouts(std::string_view name);

// comm: the world (or a mesh dimension) the strategy runs on; its size is N.
std::unique_ptr<Strategy> make_strategy(std::string_view name, const BlockConfig& cfg,
                                        comm::Communicator& comm,
                                        const StrategyOptions& options = {});
// Throws ody::Error naming the rule when cfg cannot run on n ranks with these options.
void check_strategy(std::string_view name, const BlockConfig& cfg, int n,
                    const StrategyOptions& options = {});
// The strategy's exact traffic on world rank `rank` of n (mapped through
// options.placement to its logical index), without constructing it.
Cost strategy_cost(std::string_view name, const BlockConfig& cfg, int n, int rank,
                   const StrategyOptions& options = {});
// The mesh the strategy would run on (options.mesh, or the default above), inner first.
std::vector<MeshDim> default_mesh(std::string_view name, const BlockConfig& cfg, int n,
                                  const StrategyOptions& options = {});
// "ulysses=2,ring=2" for that mesh.
std::string describe_mesh(std::string_view name, const BlockConfig& cfg, int n,
                          const StrategyOptions& options = {});

}  // namespace ody::strategies
