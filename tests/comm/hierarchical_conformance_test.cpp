// The whole conformance suite (conformance_test.cpp, compiled unchanged) on hierarchical
// worlds of pretend nodes: the suite creates its world through backends::create_world,
// which this file redirects (one macro, for this translation unit only) to the worlds below.
//   --ody-backend=hier-mpi     nodes of 2 consecutive ranks (node-major); odd P: 1 per node
//   --ody-backend=hier-mpi-rr  P/2 nodes, rank r on node r % (P/2) (not node-major); odd P:
//                              1 per node
// Both levels are MPI communicators split from MPI_COMM_WORLD. The hierarchical
// communicator counts the logical operations' flat volumes (counts_own_traffic false), so
// the suite's exact-volume traffic checks run here too.
#include <memory>
#include <string_view>
#include <vector>

#include "backends/mpi/communicator.hpp"
#include "backends/registry.hpp"
#include "base/error.hpp"
#include "comm/hierarchical.hpp"

namespace ody::backends {

std::unique_ptr<comm::Communicator> create_hierarchical_world(std::string_view name) {
  auto flat = mpi::MpiCommunicator::duplicate(MPI_COMM_WORLD);
  const int p = flat->size();
  std::vector<int> nodes(static_cast<std::size_t>(p));
  for (int r = 0; r < p; ++r) {
    if (p % 2 != 0)
      nodes[r] = r;
    else if (name == "hier-mpi")
      nodes[r] = r / 2;
    else if (name == "hier-mpi-rr")
      nodes[r] = r % (p / 2);
    else
      throw Error("--ody-backend", "hier-mpi or hier-mpi-rr", std::string(name));
  }
  return comm::make_hierarchical(std::move(flat), nodes, std::string(name));
}

}  // namespace ody::backends

#define create_world create_hierarchical_world
#include "comm/conformance_test.cpp"  // NOLINT(bugprone-suspicious-include)
#undef create_world
