#include "backends/p2p/combine.hpp"

#include <algorithm>
#include <climits>

#include "backends/mpi/check.hpp"
#include "backends/mpi/datatypes.hpp"
#include "comm/reduce.hpp"

namespace ody::backends::p2p {

void combine_into(void* inout, const void* in, std::int64_t n, comm::DType t, comm::ReduceOp op) {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) {  // a communicator finishing its work after MPI_Finalize: same arithmetic
    comm::reduce_into(inout, in, inout, n, t, op);
    return;
  }
  const MPI_Datatype type = mpi::to_mpi(t);
  const MPI_Op mop = mpi::to_mpi(t, op);
  const auto es = static_cast<std::int64_t>(comm::dtype_size(t));
  auto* out = static_cast<char*>(inout);
  const auto* src = static_cast<const char*>(in);
  for (std::int64_t o = 0; o < n;) {
    const std::int64_t k = std::min<std::int64_t>(n - o, INT_MAX);
    ODY_MPI_CHECK(MPI_Reduce_local(src + o * es, out + o * es, static_cast<int>(k), type, mop));
    o += k;
  }
}

}  // namespace ody::backends::p2p
