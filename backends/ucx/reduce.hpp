#pragma once
// Element-wise reductions of the UCX backend's collectives, for every DType and ReduceOp.
// bf16 and f16 combine in f32 and round once per combination (as the MPI backend does).
// avg reduces as sum; the collective divides once at the end (divide_in_place).
#include <cstdint>

#include "comm/dtype.hpp"

namespace ody::backends::ucx {

// out[i] = a[i] op b[i] for i < n; out may alias a or b exactly.
void reduce_into(void* out, const void* a, const void* b, std::int64_t n, comm::DType t,
                 comm::ReduceOp op);
// p[i] /= divisor, rounded once in the element type (floating types only).
void divide_in_place(void* p, std::int64_t n, comm::DType t, int divisor);

}  // namespace ody::backends::ucx
