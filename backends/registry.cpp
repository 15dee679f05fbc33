#include "backends/registry.hpp"

#include <functional>

#include "backends/mpi/communicator.hpp"
#include "comm/error.hpp"

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
  for (const auto& e : builtins())
    if (name == e.name) return e.create();
  std::string names;
  for (const auto& n : available()) names += (names.empty() ? "" : ", ") + n;
  throw Error("--backend", "one of " + names, "'" + std::string(name) + "'");
}

}  // namespace ody::backends
