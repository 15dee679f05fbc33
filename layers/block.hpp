#pragma once
// The single-rank decoder block (docs/algorithms.md section 1), the reference every
// strategy is checked against:
//
//   h = x + Attn(RMSNorm(x; attn_norm))
//   y = h + W_down( SiLU(W_gate u) ⊙ (W_up u) ),  u = RMSNorm(h; mlp_norm)
//
// Attention: q = u wqᵀ, k = u wkᵀ, v = u wvᵀ split into heads [B, L, heads, Dh], RoPE
// (global positions) on q and k, fused attention (kernels/attention.hpp, causal by global
// position or unmasked, GQA: query head h reads kv head h / (H/G)), out = o woᵀ.
// Backward takes dy and returns dx and every weight gradient as SUMS over all B·L tokens.
//
// Memory: forward saves x, q, k, v (after RoPE), o, lse, h, gate, up and the two rstd
// vectors (saved_activation_bytes()); the normed inputs and the SwiGLU product are
// recomputed in backward (cheap elementwise passes) instead of saved.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "layers/precision.hpp"
#include "layers/profile.hpp"
#include "layers/views.hpp"

namespace ody::layers {

struct BlockConfig {
  std::int64_t B = 1;    // batch
  std::int64_t L = 0;    // sequence length
  std::int64_t d = 0;    // hidden size
  std::int64_t H = 1;    // query heads
  std::int64_t G = 1;    // key/value heads (GQA), H % G == 0
  std::int64_t ffn = 0;  // MLP intermediate size i
  bool causal = true;
  // f32, or bf16 activations and weights with fp32 accumulation and fp32 weight gradients
  // (layers/precision.hpp). The seeded inputs and weights (init_block_weights,
  // make_block_input, make_block_dy) are bf16 values when it is bf16; inputs given otherwise
  // are used as they are.
  Precision precision = Precision::f32;
  // Packed sequences (layers/documents.hpp, docs/algorithms.md 7): the start position of
  // each document, strictly ascending from 0; empty = one document. Attention stays inside
  // documents and RoPE positions restart at each start.
  std::vector<std::int64_t> doc_starts;

  std::int64_t head_dim() const { return d / H; }  // Dh
  std::int64_t tokens() const { return B * L; }    // T = B·L
  // Throws ody::Error naming the parameter and the rule: all sizes positive,
  // d % H == 0, H % G == 0, Dh even (RoPE rotates pairs), doc_starts empty or strictly
  // ascending from 0 and below L.
  void validate() const;
};

// A named tensor of a weight or gradient set, for file I/O and generic loops.
struct TensorRef {
  std::string name;  // e.g. "wq", "dwq"
  float* data = nullptr;
  std::vector<std::size_t> shape;  // full shape, row-major
  std::size_t size() const;
};

// The 9 weights, names and shapes exactly as in docs/algorithms.md.
struct BlockWeights {
  Array1 attn_norm;  // [d]
  Array2 wq;         // [H·Dh, d]
  Array2 wk;         // [G·Dh, d]
  Array2 wv;         // [G·Dh, d]
  Array2 wo;         // [d, H·Dh]
  Array1 mlp_norm;   // [d]
  Array2 w_gate;     // [i, d]
  Array2 w_up;       // [i, d]
  Array2 w_down;     // [d, i]

  BlockWeights() = default;
  explicit BlockWeights(const BlockConfig& cfg);  // allocated, zero-filled
  // (name, data, shape) in the order above.
  std::vector<TensorRef> tensors() const;
};

// The gradients, same shapes, names prefixed with d.
struct BlockGrads {
  Array1 dattn_norm;  // [d]
  Array2 dwq;         // [H·Dh, d]
  Array2 dwk;         // [G·Dh, d]
  Array2 dwv;         // [G·Dh, d]
  Array2 dwo;         // [d, H·Dh]
  Array1 dmlp_norm;   // [d]
  Array2 dw_gate;     // [i, d]
  Array2 dw_up;       // [i, d]
  Array2 dw_down;     // [d, i]

  BlockGrads() = default;
  explicit BlockGrads(const BlockConfig& cfg);  // allocated, zero-filled
  std::vector<TensorRef> tensors() const;
  void zero();
};

// Deterministic weights: linear weights uniform in ±sqrt(3/fan_in) (variance 1/fan_in,
// so every projection keeps activations O(1)); norm weights 1 ± 0.1. Element e of the
// tensor with index s in tensors() is fill_seeded(seed, stream = s) (layers/init.hpp), so
// shards can be generated independently.
void init_block_weights(BlockWeights& w, const BlockConfig& cfg, std::uint64_t seed);
// Inputs: x uniform in ±1 (stream 100), dy uniform in ±1 (stream 101), by global flat index.
Array3 make_block_input(const BlockConfig& cfg, std::uint64_t seed);  // x  [B, L, d]
Array3 make_block_dy(const BlockConfig& cfg, std::uint64_t seed);     // dy [B, L, d]
inline constexpr std::uint64_t kStreamX = 100, kStreamDy = 101;

class Block {
 public:
  explicit Block(const BlockConfig& cfg);  // validates cfg; allocates saved state and workspace

  const BlockConfig& config() const { return cfg_; }

  // y [B, L, d] = block(x [B, L, d]). positions [L]: the tokens' global positions (the
  // same for every batch row); empty means 0..L-1. Saves what backward needs (x is
  // copied, so the caller may reuse x). y must not alias x.
  void forward(Span3<float> y, Span3<const float> x, const BlockWeights& w,
               Span1<const Pos> positions = {}, Profile* profile = nullptr);

  // dx [B, L, d] and every weight gradient (grad_mode: kOverwrite or kAdd) from dy
  // [B, L, d], for the x, weights and positions of the last forward. dx must not alias dy.
  void backward(Span3<float> dx, const BlockGrads& grads, Span3<const float> dy,
                const BlockWeights& w, Accum grad_mode = Accum::kOverwrite,
                Profile* profile = nullptr);

  // Bytes forward keeps alive for backward (fp32 activations, int64 positions): what a
  // cost model charges per block and per rank holding B·L tokens.
  static std::size_t saved_activation_bytes(const BlockConfig& cfg);
  // Bytes of scratch used during forward/backward and freed by neither (owned by the
  // Block, reused across calls), excluding the attention kernel's O(L·Dh) scratch.
  static std::size_t workspace_bytes(const BlockConfig& cfg);
  // Expected peak of what a Block allocates itself over a forward and backward:
  // saved_activation_bytes() + workspace_bytes() (both allocated by the constructor) + the
  // attention kernel's scratch (the larger of forward's and backward's, freed on return).
  // The weights, the gradients and x/y/dy/dx are the caller's (parameter_bytes() each for
  // a full weight or gradient set). What the strategies' Cost::peak_bytes is compared to.
  static std::size_t peak_bytes(const BlockConfig& cfg);
  // Bytes of one full set of the nine weights (or of their gradients), fp32.
  static std::size_t parameter_bytes(const BlockConfig& cfg);

 private:
  BlockConfig cfg_;
  bool saved_ = false;
  // Saved by forward.
  Array2 x_;      // [T, d] input
  Array1 rstd1_;  // [T] attention RMSNorm
  Array4 q_;      // [B, L, H, Dh] after RoPE
  Array4 k_;      // [B, L, G, Dh] after RoPE
  Array4 v_;      // [B, L, G, Dh]
  Array4 o_;      // [B, L, H, Dh] attention output (before wo)
  Array3 lse_;    // [B, H, L]
  Array2 h_;      // [T, d] residual stream after attention
  Array1 rstd2_;  // [T] MLP RMSNorm
  Array2 gate_;   // [T, i] u W_gateᵀ
  Array2 up_;     // [T, i] u W_upᵀ
  Kokkos::View<Pos*, Kokkos::LayoutRight, HostSpace> pos_;       // [L]
  Kokkos::View<Pos*, Kokkos::LayoutRight, HostSpace> rope_pos_;  // [L] with documents, else pos_
  // Workspace.
  Array2 u_;     // [T, d] normed input (forward, recomputed in backward)
  Array2 du_;    // [T, d] gradient of a normed input
  Array1 big1_;  // [T · max(i, H·Dh)]: SwiGLU product / its gradient / d o
  Array1 big2_;  // [T · max(i, H·Dh)]: d up / dq
  Array4 dk_;    // [B, L, G, Dh]
  Array4 dv_;    // [B, L, G, Dh]
};

}  // namespace ody::layers
