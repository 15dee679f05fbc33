#include "backends/registry.hpp"

#include "backends/mpi/communicator.hpp"
#include "comm/error.hpp"

namespace ody::backends {

std::vector<std::string> available() { return {"mpi"}; }

std::unique_ptr<comm::Communicator> create_world(std::string_view name) {
  if (name == "mpi") return mpi::MpiCommunicator::duplicate(MPI_COMM_WORLD);
  std::string names;
  for (const auto& n : available()) names += (names.empty() ? "" : ", ") + n;
  throw Error("--backend", "one of " + names, "'" + std::string(name) + "'");
}

}  // namespace ody::backends
