#pragma once
// ody element types and reductions as NCCL's (every ody type has an NCCL twin; avg is
// ncclAvg, NCCL >= 2.10).
#include <nccl.h>

#include "comm/dtype.hpp"

namespace ody::backends::nccl {

ncclDataType_t to_nccl(comm::DType t);
ncclRedOp_t to_nccl(comm::ReduceOp op);

}  // namespace ody::backends::nccl
