#pragma once
// The decoder block around its attention core (layers/block.hpp), on this rank's T = B·Ll
// local tokens with full (replicated or ZeRO-3-gathered) weights: what every sequence-
// parallel strategy with full weights runs before and after its exchange, written once.
// Each function is the Block's arithmetic in the Block's order; who keeps which buffer
// (and so the strategy's peak memory) stays with the caller.
#include <cstdint>
#include <vector>

#include "layers/block.hpp"
#include "layers/views.hpp"

namespace ody::strategies::parts {

// This rank's tokens: B sequences of Ll local tokens at global positions pos [Ll].
struct Tokens {
  std::int64_t B, Ll;
  const layers::Pos* pos;
  std::int64_t T() const { return B * Ll; }
};

// u [T, d] = RMSNorm(x; attn_norm) with rstd [T] saved; q [T, H·Dh], k, v [T, G·Dh] = u·Wᵀ;
// The positions RoPE rotates tokens at global positions pos [n] by: pos itself, or restarted
// per document in a packed sequence (layers/documents.hpp), then held in `store`.
layers::Span1<const layers::Pos> rope_pos(const layers::BlockConfig& c, const layers::Pos* pos,
                                          std::int64_t n, std::vector<layers::Pos>& store);
// RoPE on q and k at the tokens' positions.
void qkv_forward(const layers::BlockConfig& c, const Tokens& t, const layers::BlockWeights& w,
                 layers::Span2<const float> x, layers::Span2<float> u, layers::Span1<float> rstd,
                 float* q, float* k, float* v);

// Backward of qkv_forward: RoPE backward of dq, dk in place; du [T, d] = dq·Wq + dk·Wk + dv·Wv
// with dwq, dwk, dwv overwritten; dh [T, d] += the RMSNorm input gradient (dattn_norm
// overwritten). u: the normed input as forward computed it (saved, or recomputed by the caller).
void qkv_backward(const layers::BlockConfig& c, const Tokens& t, const layers::BlockWeights& w,
                  const layers::BlockGrads& g, float* dq, float* dk, const float* dv,
                  layers::Span2<const float> u, layers::Span2<const float> x,
                  layers::Span1<const float> rstd, layers::Span2<float> du,
                  layers::Span2<float> dh);

// h [T, d] = x + o·Woᵀ (o [T, H·Dh]).
void out_proj_forward(const layers::BlockConfig& c, const layers::BlockWeights& w, const float* o,
                      layers::Span2<const float> x, layers::Span2<float> h);

// The MLP branch in row blocks (layers/row_blocked_mlp.hpp): gate, up [T, i] saved, rstd2 [T]
// saved, y [T, d] = h + MLP(RMSNorm(h)).
void mlp_forward(const layers::BlockConfig& c, std::int64_t T, const layers::BlockWeights& w,
                 const float* h, float* gate, float* up, float* rstd2, float* y);

// Backward of mlp_forward: dh [T, d] = dy + the branch's input gradient; the MLP weight
// gradients overwritten; gate and up are overwritten by dgate and dup (dead afterwards).
void mlp_backward(const layers::BlockConfig& c, std::int64_t T, const layers::BlockWeights& w,
                  const layers::BlockGrads& g, const float* dy, float* gate, float* up,
                  const float* h, const float* rstd2, float* dh);

}  // namespace ody::strategies::parts
