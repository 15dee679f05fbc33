#pragma once
// Mapping of ody::comm element types and reductions onto MPI. bf16 and f16 have no MPI
// type: they travel as MPI_UINT16_T and reduce through user-defined operations that
// compute each pairwise combination in f32 (one rounding to 16 bits per combination).
#include <mpi.h>

#include "comm/dtype.hpp"

namespace ody::backends::mpi {

MPI_Datatype to_mpi(comm::DType t);
// The MPI operation for a reduction of type t. avg maps to the sum; the caller divides.
MPI_Op to_mpi(comm::DType t, comm::ReduceOp op);

}  // namespace ody::backends::mpi
