#pragma once
// A mesh dimension's group on a backend of its own (the registry's, registry.hpp), without
// MPI types in the interface, so that strategies/ can ask for one.
#include <memory>
#include <string_view>

#include "comm/communicator.hpp"

namespace ody::backends {

// Backend `name` over the ranks of MPI_COMM_WORLD that pass the same color, ordered by
// key (MPI_Comm_split; collective over MPI_COMM_WORLD). Never null: color must be >= 0.
std::unique_ptr<comm::Communicator> create_split(std::string_view name, int color, int key);
// The size of MPI_COMM_WORLD.
int world_size();

}  // namespace ody::backends
