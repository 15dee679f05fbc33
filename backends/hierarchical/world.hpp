#pragma once
// The two-level communicator as a backend found by name (backends/registry.hpp):
//
//   hier:LEVELS[@NODES]
//     LEVELS  B        both levels on backend B (mpi, ucx, plugin:NAME, ...)
//             B1+B2    the intra-node level on B1, the inter-node level on B2
//     NODES   hosts    ranks on the same host form a node (default)
//             block:Q  pretend nodes of Q consecutive ranks (Q divides the world size)
//             cyclic:K K pretend nodes, rank r on node r % K (K divides the world size)
//
// e.g. "hier:mpi@block:2", "hier:mpi+ucx". The intra level and point-to-point run on B1's
// world split by node, the inter level on B2's world split by local index.
#include <functional>
#include <memory>
#include <string_view>

#include "comm/communicator.hpp"

namespace ody::backends::hierarchical {

// create_level(name): the world communicator of a one-level backend (the registry's
// create_world). Throws ody::Error naming the part of `spec` that is wrong. Collective.
std::unique_ptr<comm::Communicator> create_world(
    std::string_view spec,
    const std::function<std::unique_ptr<comm::Communicator>(std::string_view)>& create_level);

}  // namespace ody::backends::hierarchical
