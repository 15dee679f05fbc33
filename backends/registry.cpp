#include "backends/registry.hpp"

#include <functional>

#include "backends/hierarchical/world.hpp"
#include "backends/mpi/communicator.hpp"
#include "backends/plugin/communicator.hpp"
#if ODY_HAVE_NCCL
#include "backends/nccl/communicator.hpp"
#endif
#if ODY_HAVE_UCX
#include "backends/ucx/communicator.hpp"
#endif
#include "base/error.hpp"

namespace ody::backends {

namespace {

using Factory = std::function<std::unique_ptr<comm::Communicator>()>;
struct Entry {
  const char* name;
  Factory create;
};

// The backends built into this library, one line each (a backend folder adds its line
// under its ODY_HAVE_* guard).
const std::vector<Entry>& builtins() {
  static const std::vector<Entry> entries = {
    {"mpi", [] { return mpi::MpiCommunicator::duplicate(MPI_COMM_WORLD); }},
#if ODY_HAVE_NCCL
    {"nccl", [] { return nccl::create(MPI_COMM_WORLD); }},
#endif
#if ODY_HAVE_UCX
    {"ucx", [] { return ucx::UcxCommunicator::create(MPI_COMM_WORLD); }},
#endif
  };
  return entries;
}

}  // namespace

std::vector<std::string> available() {
  std::vector<std::string> names;
  for (const auto& e : builtins()) names.emplace_back(e.name);
  return names;
}

std::unique_ptr<comm::Communicator> create_world(std::string_view name) {
  // "plugin:NAME": libody-plugin-NAME.so loaded at run time (backends/plugin/loader.hpp).
  if (name.starts_with("plugin:")) return plugin::PluginCommunicator::create_world(name.substr(7));
  // "hier:LEVELS[@NODES]": the two-level communicator over one-level backends (world.hpp).
  if (name.starts_with("hier:")) return hierarchical::create_world(name, create_world);
  for (const auto& e : builtins())
    if (name == e.name) return e.create();
  std::string names;
  for (const auto& n : available()) names += (names.empty() ? "" : ", ") + n;
  throw Error("--backend",
              "one of " + names + ", plugin:NAME (libody-plugin-NAME.so) or hier:LEVELS[@NODES]",
              "'" + std::string(name) + "'");
}

}  // namespace ody::backends
