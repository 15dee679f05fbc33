#pragma once
// Backends by name. A built-in backend registers itself from its own folder (one
// `const Registration` in its register.cpp, compiled when its dependency was found):
// its description, which the selector reads, and its factory. Callers (tools, tests) own
// the MPI environment: construct ody::backends::mpi::Environment before creating one
// (every backend bootstraps through MPI).
//
// Names: a built-in ("mpi", "ucx", "nccl", ...), "plugin:NAME" (a run-time plugin,
// backends/plugin/loader.hpp) or "hier:LEVELS[@NODES]" (the two-level communicator over
// one-level backends, backends/hierarchical/world.hpp). Groups of MPI_COMM_WORLD on a
// backend of their own: split.hpp.
#include <mpi.h>

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "comm/communicator.hpp"

namespace ody::backends {

// Link classes in the order of topology::LinkClass (closest first): same device,
// NVLink, PCIe switch, host bridge, system (across NUMA nodes or packages), network.
inline constexpr std::size_t kLinkClasses = 6;
using LinkScores = std::array<int, kLinkClasses>;

// What a backend says about itself, for the selector (topology/placement.hpp scores each
// mesh dimension's candidates by these numbers; it knows no backend by name).
struct Description {
  std::string name;
  std::string summary;  // one line: transport and algorithms
  std::string needs;    // what a build needs to include it ("" : always built)
  bool built = false;   // set by the registry: this build can create it
  bool host_memory = true;
  bool device_memory = false;
  // How well it suits a group whose worst link is of each class: higher wins, 0 = never
  // choose it there. For groups of CPU ranks (host memory) and of GPU ranks (device).
  LinkScores host_score{};
  LinkScores gpu_score{};
};

// Collective over `parent` (which stays owned by the caller): the backend's communicator
// over the same ranks, in the same order.
using Factory = std::function<std::unique_ptr<comm::Communicator>(MPI_Comm parent)>;

// create: null where this build lacks the backend's dependency (its description is still
// known, for topology studies of machines that have it).
struct Registration {
  Registration(Description description, Factory create);
};

// Every in-tree backend's description, built or not, sorted by name.
std::vector<Description> descriptions();
// Names of the backends this build can create.
std::vector<std::string> available();

// Backend `name` over the ranks of `parent`, in their order (collective over parent).
// Throws ody::Error listing the available names when `name` is unknown, and saying what
// the build lacks when it is a backend this build does not include.
std::unique_ptr<comm::Communicator> create(std::string_view name, MPI_Comm parent);
// create(name, MPI_COMM_WORLD).
std::unique_ptr<comm::Communicator> create_world(std::string_view name);

}  // namespace ody::backends
