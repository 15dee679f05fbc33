#pragma once
// Element-wise reductions on typed buffers, for backends and composite communicators that
// reduce on the host themselves (ucx, plugin host, hierarchical). bf16/f16 combine in f32
// and round once; avg is summed by reduce_into and finished by divide_in_place, which
// uses the MPI backend's arithmetic (element type for f32/f64, f32 times 1/d for halves),
// so that every backend's avg agrees with MPI's.
#include <cstdint>

#include "comm/dtype.hpp"

namespace ody::comm {

// out[k] = a[k] op b[k] for k < n (avg: the sum); out may alias a or b.
void reduce_into(void* out, const void* a, const void* b, std::int64_t n, DType t, ReduceOp op);
// p[k] /= d for the floating types (avg on integers is rejected by validation: no-op).
void divide_in_place(void* p, std::int64_t n, DType t, int d);

}  // namespace ody::comm
