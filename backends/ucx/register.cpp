// The UCX backend in the registry (backends/registry.hpp).
#include "backends/registry.hpp"
#include "backends/ucx/communicator.hpp"

namespace ody::backends::ucx {
namespace {

// Scores: across nodes UCX drives the NICs directly with its own ring and pairwise
// schedules (6, above MPI's 4); inside a node OpenMPI's shared memory wins (3 < 5).
const Registration kUcx {
  {"ucx",
   "UCP tag-matched point to point; collectives as backends/p2p schedules",
   "UCX (libucx-dev)",
   false,
   true,
   false,
   {3, 3, 3, 3, 3, 6},
   {3, 3, 3, 3, 3, 6}},
#if ODY_HAVE_UCX
      [](MPI_Comm parent) { return UcxCommunicator::create(parent); }
};
#else
      nullptr
};
#endif

}  // namespace
}  // namespace ody::backends::ucx
