#pragma once
// Merging two partial attention results of the same rows over DISJOINT key sets
// (docs/algorithms.md section 2), in fp32:
//
//   lse' = lse + log1p(exp(lse_b - lse))   computed as max + log1p(exp(min - max))
//   out' = out - sigmoid(lse_b - lse) * (out - out_b)
//
// -inf (a row that saw no key in that partial) is handled exactly: merging with an empty
// partial is a no-op, an empty row takes the other partial as is, and two empty rows
// stay empty (out untouched, lse = -inf); no NaN is produced.
#include <cmath>
#include <cstdint>

#include "kernels/attention.hpp"

namespace ody::kernels {

// out, out_b [B, Lq, Hq, Dh] fp32; lse, lse_b [B, Hq, Lq] fp32. (out, lse) is updated in
// place to the merge of (out, lse) and (out_b, lse_b). shape.len_k/heads_k are unused.
void attention_merge(float* out, float* lse, const float* out_b, const float* lse_b,
                     const AttentionShape& shape, const Strides& out_strides = {},
                     const LseStrides& lse_strides = {}, const Strides& out_b_strides = {},
                     const LseStrides& lse_b_strides = {});

namespace detail {
// One row of Dh values; the rule above. Inline: the forward kernel merges with it too.
inline void merge_row(float* out, float& lse, const float* out_b, float lse_b, std::int64_t dh) {
  if (lse_b == -INFINITY) return;  // b saw nothing: no-op (also when both are empty)
  if (lse == -INFINITY) {          // a saw nothing: take b
    for (std::int64_t d = 0; d < dh; ++d) out[d] = out_b[d];
    lse = lse_b;
    return;
  }
  const float diff = lse_b - lse;
  // sigmoid(diff) without overflow for either sign.
  const float w =
      diff >= 0.f ? 1.f / (1.f + std::exp(-diff)) : std::exp(diff) / (1.f + std::exp(diff));
  const float hi = diff >= 0.f ? lse_b : lse;
  lse = hi + std::log1p(std::exp(-std::fabs(diff)));
  for (std::int64_t d = 0; d < dh; ++d) out[d] = out[d] - w * (out[d] - out_b[d]);
}
}  // namespace detail

}  // namespace ody::kernels
