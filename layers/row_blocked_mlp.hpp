#pragma once
// The MLP branch h -> RMSNorm -> SwiGLU MLP done a few hundred tokens at a time, so that a
// caller (the sequence-parallel strategies) holds no [T, i] buffer beyond the saved gate and up
// (the single-rank Block keeps two more, layers/block.cpp) and no [T, d] normed input or its
// gradient (recomputed per block from h and the saved rstd). Same operations as layers/mlp.hpp and
// rmsnorm.hpp, in row blocks: rows are independent; the weight gradients are summed over the blocks
// (kAdd after the first).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "layers/linear.hpp"
#include "layers/mlp.hpp"
#include "layers/rmsnorm.hpp"

namespace ody::layers {

// Tokens per block: about 4 MiB of fp32 scratch per [rows, i] block.
inline std::int64_t mlp_block_rows(std::int64_t i) {
  return std::max<std::int64_t>(64, (std::int64_t(1) << 20) / i);
}

// Scratch bytes each function below allocates and frees per call (the peak models,
// Cost::peak_bytes): one [rows, d] normed block (up forward), a normed block and its
// gradient (up backward), one [rows, i] act block (down forward and backward).
inline std::uint64_t mlp_up_forward_scratch_bytes(std::int64_t T, std::int64_t d, std::int64_t i) {
  return std::uint64_t(std::min(T, mlp_block_rows(i)) * d) * sizeof(float);
}
inline std::uint64_t mlp_up_backward_scratch_bytes(std::int64_t T, std::int64_t d, std::int64_t i) {
  return 2 * mlp_up_forward_scratch_bytes(T, d, i);
}
inline std::uint64_t mlp_down_scratch_bytes(std::int64_t T, std::int64_t i) {
  return std::uint64_t(std::min(T, mlp_block_rows(i)) * i) * sizeof(float);
}

// gate, up [T, i] = RMSNorm(h [T, d]; norm) · w_gateᵀ / w_upᵀ (or row blocks of the
// weights, [i_rows, d]); rstd [T] saved.
inline void mlp_up_forward(float* gate, float* up, float* rstd, const float* h, std::int64_t T,
                           std::int64_t d, std::int64_t i, layers::Span1<const float> norm,
                           layers::Mat<const float> w_gate, layers::Mat<const float> w_up) {
  using namespace layers;
  const std::int64_t rows = std::min(T, mlp_block_rows(i));
  std::vector<float> u(rows * d);
  for (std::int64_t r0 = 0; r0 < T; r0 += rows) {
    const std::int64_t n = std::min(rows, T - r0);
    const Span2<float> uc(u.data(), n, d);
    rmsnorm_forward(uc, Span1<float>(rstd + r0, n), Span2<const float>(h + r0 * d, n, d), norm);
    linear_forward(Mat<float>(Span2<float>(gate + r0 * i, n, i)), Mat<const float>(uc), w_gate);
    linear_forward(Mat<float>(Span2<float>(up + r0 * i, n, i)), Mat<const float>(uc), w_up);
  }
}

// Backward of mlp_up_forward given dgate, dup [T, i] (mlp_down_backward's output): dw_gate,
// dw_up = dgateᵀ u, dupᵀ u and dnorm (all overwritten); dh [T, d] += the RMSNorm input
// gradient of du = dgate · w_gate + dup · w_up.
inline void mlp_up_backward(float* dh, layers::Mat<float> dw_gate, layers::Mat<float> dw_up,
                            layers::Span1<float> dnorm, const float* dgate, const float* dup,
                            const float* h, const float* rstd, std::int64_t T, std::int64_t d,
                            std::int64_t i, layers::Span1<const float> norm,
                            layers::Mat<const float> w_gate, layers::Mat<const float> w_up) {
  using namespace layers;
  const std::int64_t rows = std::min(T, mlp_block_rows(i));
  std::vector<float> u(rows * d), du(rows * d);
  for (std::int64_t r0 = 0; r0 < T; r0 += rows) {
    const std::int64_t n = std::min(rows, T - r0);
    const Accum dw_mode = r0 == 0 ? Accum::kOverwrite : Accum::kAdd;
    const Span2<float> uc(u.data(), n, d), duc(du.data(), n, d);
    const Span2<const float> hc(h + r0 * d, n, d);
    rmsnorm_forward(uc, Span1<float>(), hc, norm);  // as forward computed it
    linear_backward(Mat<float>(duc), dw_gate,
                    Mat<const float>(Span2<const float>(dgate + r0 * i, n, i)),
                    Mat<const float>(uc), w_gate, Accum::kOverwrite, dw_mode);
    linear_backward(Mat<float>(duc), dw_up,
                    Mat<const float>(Span2<const float>(dup + r0 * i, n, i)), Mat<const float>(uc),
                    w_up, Accum::kAdd, dw_mode);
    rmsnorm_backward(Span2<float>(dh + r0 * d, n, d), dnorm, Span2<const float>(duc), hc, norm,
                     Span1<const float>(rstd + r0, n), Accum::kAdd, dw_mode);
  }
}

// y [T, d] (y_mode)= (SiLU(gate) ⊙ up) · w_downᵀ, gate/up [T, i], w_down [d, i] (or a
// [d_rows, i] row block of it with y [T, d_rows]).
inline void mlp_down_forward(layers::Mat<float> y, const float* gate, const float* up,
                             std::int64_t T, std::int64_t i, layers::Mat<const float> w_down,
                             layers::Accum y_mode) {
  using namespace layers;
  const std::int64_t rows = std::min(T, mlp_block_rows(i)), ld = y.stride(0), dout = y.extent(1);
  std::vector<float> act(rows * i);
  for (std::int64_t r0 = 0; r0 < T; r0 += rows) {
    const std::int64_t n = std::min(rows, T - r0);
    const Span2<float> a(act.data(), n, i);
    swiglu_forward(a, Span2<const float>(gate + r0 * i, n, i),
                   Span2<const float>(up + r0 * i, n, i));
    linear_forward(make_mat<float>(y.data() + r0 * ld, n, dout, ld), Mat<const float>(a), w_down,
                   y_mode);
  }
}

// Backward of the above, in place: on return gate holds dgate and up holds dup ([T, i]),
// dw_down [d, i] = dyᵀ act (overwritten), dy [T, d]. The act/dact block is the only scratch.
inline void mlp_down_backward(layers::Mat<float> dw_down, float* gate, float* up, std::int64_t T,
                              std::int64_t i, layers::Mat<const float> dy,
                              layers::Mat<const float> w_down) {
  using namespace layers;
  const std::int64_t rows = std::min(T, mlp_block_rows(i)), ld = dy.stride(0), dout = dy.extent(1);
  std::vector<float> act(rows * i);
  for (std::int64_t r0 = 0; r0 < T; r0 += rows) {
    const std::int64_t n = std::min(rows, T - r0);
    const Span2<float> a(act.data(), n, i), g(gate + r0 * i, n, i), u(up + r0 * i, n, i);
    swiglu_forward(a, Span2<const float>(g), Span2<const float>(u));  // recompute act
    // dW_down (+)= dy_blkᵀ act, then dact = dy_blk W_down over act (dW first).
    linear_backward(Mat<float>(a), dw_down, make_mat<const float>(dy.data() + r0 * ld, n, dout, ld),
                    Mat<const float>(a), w_down, Accum::kOverwrite,
                    r0 == 0 ? Accum::kOverwrite : Accum::kAdd);
    // Each element reads gate, up, dact before writing dgate, dup: in place is safe.
    swiglu_backward(g, u, Span2<const float>(a), Span2<const float>(g), Span2<const float>(u));
  }
}

}  // namespace ody::layers
