#pragma once
// RMSNorm over the last dimension, as in Llama:
//   y = x / sqrt(mean(x², last dim) + eps) ⊙ w
// Rows are tokens, so a token shard [T/N, d] is just fewer rows.
#include "layers/views.hpp"

namespace ody::layers {

inline constexpr float kRmsNormEps = 1e-5f;

// y [T, d] = RMSNorm(x [T, d]; w [d]). rstd [T] receives 1/sqrt(mean(x²) + eps) per row,
// the only thing backward needs besides x and w; pass an empty span to not save it.
// y may alias x. Reductions run in double.
template <class Space = HostSpace>
void rmsnorm_forward(Span2<float, Space> y,        // [T, d]
                     Span1<float, Space> rstd,     // [T] (or empty)
                     Span2<const float, Space> x,  // [T, d]
                     Span1<const float, Space> w,  // [d]
                     float eps = kRmsNormEps);

// Gradients of y = RMSNorm(x; w) given dy:
//   dx [T, d] (dx_mode)= rstd·(dy⊙w) - x·rstd³·Σ_j(dy⊙w⊙x)/d
//   dw [d]    (dw_mode)= Σ_t dy ⊙ x·rstd            (a SUM over the T rows)
// Either output may be an empty span (not computed). dx must not alias dy or x.
template <class Space = HostSpace>
void rmsnorm_backward(Span2<float, Space> dx,          // [T, d] (or empty)
                      Span1<float, Space> dw,          // [d] (or empty)
                      Span2<const float, Space> dy,    // [T, d]
                      Span2<const float, Space> x,     // [T, d]
                      Span1<const float, Space> w,     // [d]
                      Span1<const float, Space> rstd,  // [T], from forward
                      Accum dx_mode = Accum::kOverwrite, Accum dw_mode = Accum::kOverwrite);

}  // namespace ody::layers
