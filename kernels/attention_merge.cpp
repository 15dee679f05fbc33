#include "kernels/attention_merge.hpp"

#include "base/error.hpp"

namespace ody::kernels {

void attention_merge(float* out, float* lse, const float* out_b, const float* lse_b,
                     const AttentionShape& shape, const Strides& out_strides,
                     const LseStrides& lse_strides, const Strides& out_b_strides,
                     const LseStrides& lse_b_strides) {
  const std::int64_t B = shape.batch, L = shape.len_q, H = shape.heads_q, Dh = shape.head_dim;
  ODY_REQUIRE(B >= 0 && L >= 0 && H >= 0 && Dh > 0, "attention_merge: shape",
              "batch, len_q, heads_q >= 0 and head_dim > 0", "B=", B, " Lq=", L, " Hq=", H,
              " Dh=", Dh);
  if (B * L * H == 0) return;
  ODY_REQUIRE(out && lse && out_b && lse_b, "attention_merge: pointers", "non-null",
              "a null pointer");
  auto fill = [&](Strides s) {
    if (s.batch == 0 && s.seq == 0 && s.head == 0) s = {L * H * Dh, H * Dh, Dh};
    return s;
  };
  auto fill_lse = [&](LseStrides s) {
    if (s.batch == 0 && s.head == 0) s = {H * L, L};
    return s;
  };
  const Strides so = fill(out_strides), sb = fill(out_b_strides);
  const LseStrides lo = fill_lse(lse_strides), lb = fill_lse(lse_b_strides);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t i = 0; i < L; ++i)
      for (std::int64_t h = 0; h < H; ++h)
        detail::merge_row(out + b * so.batch + i * so.seq + h * so.head,
                          lse[b * lo.batch + h * lo.head + i],
                          out_b + b * sb.batch + i * sb.seq + h * sb.head,
                          lse_b[b * lb.batch + h * lb.head + i], Dh);
}

}  // namespace ody::kernels
