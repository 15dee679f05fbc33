#pragma once
// Plain attention, written for clarity rather than speed: it materialises the Lq x Lk
// score matrix of each head. The tests compare the fused kernels with it.
// Acc = double is the reference; Acc = float is "a plain same-precision implementation",
// whose error against the fp64 reference sets the scale of the tests' tolerances.
// Same contract as kernels/attention.hpp (positions, causal mask, GQA, empty rows give
// lse = -inf, out = 0 and zero gradients), contiguous tensors only; backward overwrites.
#include <cstdint>

#include "kernels/attention.hpp"

namespace ody::kernels {

// out [B, Lq, Hq, Dh], lse [B, Hq, Lq] <- q [B, Lq, Hq, Dh], k, v [B, Lk, Hk, Dh]
template <class Acc>
void reference_attention_forward(Acc* out, Acc* lse, const Acc* q, const Acc* k, const Acc* v,
                                 const std::int64_t* pos_q, const std::int64_t* pos_k,
                                 const AttentionShape& shape, const AttentionOptions& options);

// dq [B, Lq, Hq, Dh], dk, dv [B, Lk, Hk, Dh] <- dout [B, Lq, Hq, Dh], q, k, v. Recomputes
// the probabilities and uses D = rowsum(P * dP) (not dout * out, so it is independent of
// the kernel's formula).
template <class Acc>
void reference_attention_backward(Acc* dq, Acc* dk, Acc* dv, const Acc* dout, const Acc* q,
                                  const Acc* k, const Acc* v, const std::int64_t* pos_q,
                                  const std::int64_t* pos_k, const AttentionShape& shape,
                                  const AttentionOptions& options);

}  // namespace ody::kernels
