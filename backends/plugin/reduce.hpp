#pragma once
// Element-wise reduction on host buffers of any ody element type, for collectives that the
// host builds over point-to-point (p2p_collectives.hpp). bf16 and f16 combine in f32 and
// round once per combination (as the MPI backend's user-defined ops do).
#include <cstdint>

#include "comm/dtype.hpp"

namespace ody::backends::plugin {

// acc[i] = op(acc[i], in[i]) for i < n; avg combines as sum (divide_by finishes it).
void combine(void* acc, const void* in, std::int64_t n, comm::DType t, comm::ReduceOp op);
// acc[i] /= p, rounded once in the element type (floating types only).
void divide_by(void* acc, std::int64_t n, comm::DType t, int p);

}  // namespace ody::backends::plugin
