#pragma once
// Elementwise parts of the CPU attention kernel, one call per (query tile x key tile).
// Internal to kernels/: each function is compiled for AVX-512, AVX2 and baseline x86-64
// and the best one is picked at load time (GCC target_clones); elsewhere one portable
// version is built. The GEMMs around them are BLAS calls (attention_cpu.cpp).
//
// Scores arrive pre-multiplied by scale * log2(e), so the softmax uses exp2 and the
// kernel converts lse back to natural log at the end.
#include <cstdint>

#include "base/half.hpp"

namespace ody::kernels::detail {

// Online-softmax step of forward on a tile s [rows, cols] (leading dim lds):
// masks (when mask: s[r][c] = -inf where pos_k[c] is outside [lo[r], hi[r]], the keys
// row r may see: attention_cpu.cpp's visible_windows), updates the running max
// m[r] and sum l[r], replaces s by p = exp2(s - m_new), and rescales the output
// accumulator o [rows, dh] (leading dim ldo) by exp2(m_old - m_new). Rows whose max
// stays -inf produce p = 0 and keep l = 0 (no NaN).
void softmax_forward_tile(float* s, std::int64_t lds, float* o, std::int64_t ldo, std::int64_t dh,
                          std::int64_t rows, std::int64_t cols, const std::int64_t* lo,
                          const std::int64_t* hi, const std::int64_t* pos_k, bool mask, float* m,
                          float* l);

// Backward on a tile: s [rows, cols] holds scaled scores (log2 units) and becomes
// p = exp2(s - lse2[r]) (0 where masked, as above); dp [rows, cols] holds dO V^T and becomes
// ds = p * (dp - delta[r]). lse2 = lse * log2(e), or +inf for a row with no visible key
// (which makes its p and ds exactly 0).
void softmax_backward_tile(float* s, float* dp, std::int64_t ld, std::int64_t rows,
                           std::int64_t cols, const std::int64_t* lo, const std::int64_t* hi,
                           const std::int64_t* pos_k, bool mask, const float* lse2,
                           const float* delta);

// dst [rows, cols] (ld_dst) = float(src) [rows, cols] (ld_src).
void widen_rows(float* dst, std::int64_t ld_dst, const ody::bf16* src, std::int64_t ld_src,
                std::int64_t rows, std::int64_t cols);
// dst = bf16(src * factor[r]) (round to nearest even), or 0 where factor[r] == 0.
void narrow_rows_scaled(ody::bf16* dst, std::int64_t ld_dst, const float* src, std::int64_t ld_src,
                        const float* factor, std::int64_t rows, std::int64_t cols);
// dst = src * factor[r], or 0 where factor[r] == 0.
void copy_rows_scaled(float* dst, std::int64_t ld_dst, const float* src, std::int64_t ld_src,
                      const float* factor, std::int64_t rows, std::int64_t cols);

}  // namespace ody::kernels::detail
