#pragma once
// The element-wise reduction step of the schedules' reduce-scatter and all-reduce:
// inout[k] = in[k] op inout[k] (avg: the sum; the schedule divides at the end), through
// MPI_Reduce_local with the MPI backend's type/op mapping (backends/mpi/datatypes.hpp).
// OpenMPI reduces the native types with its vectorised op component (op/avx): 512 KiB of
// f32 sums in ~9 us here against ~58 us for the scalar loop of comm::reduce_into, which
// at 2 ranks made the UCX backend's all-reduce slower than the MPI backend's. bf16/f16 go through
// the MPI backend's user-defined operations (f32 combination, one rounding), the same arithmetic as
// comm::reduce_into. Pairwise combination of two operands in one IEEE operation is exact whichever
// the implementation, so results equal comm::reduce_into's bit for bit (NaN operands of max/min
// aside).
//
// MPI must be initialised (it is whenever a UCX or plugin communicator exists); after
// MPI_Finalize (a communicator completing its work late) it falls back to
// comm::reduce_into.
#include <cstdint>

#include "comm/dtype.hpp"

namespace ody::backends::p2p {

// inout and in must not overlap.
void combine_into(void* inout, const void* in, std::int64_t n, comm::DType t, comm::ReduceOp op);

}  // namespace ody::backends::p2p
