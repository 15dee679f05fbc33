// The NCCL backend in the registry (backends/registry.hpp).
#include "backends/nccl/communicator.hpp"
#include "backends/registry.hpp"

namespace ody::backends::nccl {
namespace {

// Scores: device memory only, so never for CPU ranks; the best for GPU ranks everywhere,
// best of all over NVLink (10) where its kernels copy at link speed.
const Registration kNccl {
  {"nccl",
   "NCCL collectives and grouped point to point on CUDA streams",
   "CUDA and NCCL",
   false,
   false,
   true,
   {0, 0, 0, 0, 0, 0},
   {10, 10, 8, 8, 8, 8}},
#if ODY_HAVE_NCCL
      [](MPI_Comm parent) { return create(parent); }
};
#else
      nullptr
};
#endif

}  // namespace
}  // namespace ody::backends::nccl
