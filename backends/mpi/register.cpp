// The MPI backend in the registry (backends/registry.hpp).
#include "backends/mpi/communicator.hpp"
#include "backends/registry.hpp"

namespace ody::backends::mpi {
namespace {

// Scores: OpenMPI's shared-memory path is the best host transport inside a node (5), a
// fair one across nodes (4); for GPU ranks it stages through the host (2).
const Registration kMpi{{"mpi",
                         "OpenMPI collectives and point to point (shared memory, TCP, UCX pml)",
                         "",
                         false,
                         true,
                         false,
                         {5, 5, 5, 5, 5, 4},
                         {2, 2, 2, 2, 2, 2}},
                        [](MPI_Comm parent) { return MpiCommunicator::duplicate(parent); }};

}  // namespace
}  // namespace ody::backends::mpi
