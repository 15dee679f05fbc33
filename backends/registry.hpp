#pragma once
// Chooses a backend by name and creates its world communicator. Built-in names: "mpi"
// (always), others when built. Callers (tools, tests) own the MPI environment: construct
// ody::backends::mpi::Environment before calling (every backend bootstraps through MPI).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "comm/communicator.hpp"

namespace ody::backends {

// The world communicator of backend `name`: a built-in one, "plugin:NAME" (a run-time
// plugin, backends/plugin/loader.hpp) or "hier:LEVELS[@NODES]" (the two-level communicator
// over one-level backends, backends/hierarchical/world.hpp). Throws ody::Error listing the
// available names when `name` is unknown.
std::unique_ptr<comm::Communicator> create_world(std::string_view name);
// Backends built into this library.
std::vector<std::string> available();

}  // namespace ody::backends
