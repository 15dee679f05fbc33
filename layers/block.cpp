#include "layers/block.hpp"

#include <algorithm>
#include <cmath>

#include "base/error.hpp"
#include "kernels/attention.hpp"
#include "layers/documents.hpp"
#include "layers/init.hpp"
#include "layers/linear.hpp"
#include "layers/mlp.hpp"
#include "layers/rmsnorm.hpp"
#include "layers/rope.hpp"

namespace ody::layers {

// ---- config, tensors, init ---------------------------------------------------------------

void BlockConfig::validate() const {
  ODY_REQUIRE(B > 0, "BlockConfig.B", "a positive batch size", B);
  ODY_REQUIRE(L > 0, "BlockConfig.L", "a positive sequence length", L);
  ODY_REQUIRE(d > 0, "BlockConfig.d", "a positive hidden size", d);
  ODY_REQUIRE(H > 0, "BlockConfig.H", "a positive number of query heads", H);
  ODY_REQUIRE(G > 0, "BlockConfig.G", "a positive number of kv heads", G);
  ODY_REQUIRE(ffn > 0, "BlockConfig.ffn", "a positive MLP size i", ffn);
  ODY_REQUIRE(d % H == 0, "BlockConfig.d", "d % H == 0 (head dim Dh = d / H)", "d = ", d,
              ", H = ", H);
  ODY_REQUIRE(H % G == 0, "BlockConfig.G", "H % G == 0 (each kv head serves H/G query heads)",
              "H = ", H, ", G = ", G);
  ODY_REQUIRE((d / H) % 2 == 0, "BlockConfig.d", "an even head dim d / H (RoPE rotates pairs)",
              "Dh = ", d / H);
  for (std::size_t j = 0; j < doc_starts.size(); ++j)
    ODY_REQUIRE(
        j == 0 ? doc_starts[0] == 0 : doc_starts[j] > doc_starts[j - 1] && doc_starts[j] < L,
        "BlockConfig.doc_starts",
        "document starts ascending from 0, each below L = " + std::to_string(L) +
            " (documents of at least one token)",
        "start ", doc_starts[j], " of document ", j);
}

std::size_t TensorRef::size() const {
  std::size_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

namespace {

using Z = std::size_t;

template <class V>
TensorRef ref(const char* name, const V& v) {
  TensorRef r{name, v.data(), {}};
  for (unsigned k = 0; k < V::rank; ++k) r.shape.push_back(v.extent(k));
  return r;
}

struct Dims {
  Z d, hq, hk, i;  // d, H·Dh, G·Dh, ffn
  explicit Dims(const BlockConfig& c)
      : d(c.d), hq(c.H * c.head_dim()), hk(c.G * c.head_dim()), i(c.ffn) {}
};

}  // namespace

BlockWeights::BlockWeights(const BlockConfig& cfg) {
  cfg.validate();
  const Dims s(cfg);
  attn_norm = Array1("attn_norm", s.d);
  wq = Array2("wq", s.hq, s.d);
  wk = Array2("wk", s.hk, s.d);
  wv = Array2("wv", s.hk, s.d);
  wo = Array2("wo", s.d, s.hq);
  mlp_norm = Array1("mlp_norm", s.d);
  w_gate = Array2("w_gate", s.i, s.d);
  w_up = Array2("w_up", s.i, s.d);
  w_down = Array2("w_down", s.d, s.i);
}

std::vector<TensorRef> BlockWeights::tensors() const {
  return {ref("attn_norm", attn_norm),
          ref("wq", wq),
          ref("wk", wk),
          ref("wv", wv),
          ref("wo", wo),
          ref("mlp_norm", mlp_norm),
          ref("w_gate", w_gate),
          ref("w_up", w_up),
          ref("w_down", w_down)};
}

BlockGrads::BlockGrads(const BlockConfig& cfg) {
  cfg.validate();
  const Dims s(cfg);
  dattn_norm = Array1("dattn_norm", s.d);
  dwq = Array2("dwq", s.hq, s.d);
  dwk = Array2("dwk", s.hk, s.d);
  dwv = Array2("dwv", s.hk, s.d);
  dwo = Array2("dwo", s.d, s.hq);
  dmlp_norm = Array1("dmlp_norm", s.d);
  dw_gate = Array2("dw_gate", s.i, s.d);
  dw_up = Array2("dw_up", s.i, s.d);
  dw_down = Array2("dw_down", s.d, s.i);
}

std::vector<TensorRef> BlockGrads::tensors() const {
  return {ref("dattn_norm", dattn_norm),
          ref("dwq", dwq),
          ref("dwk", dwk),
          ref("dwv", dwv),
          ref("dwo", dwo),
          ref("dmlp_norm", dmlp_norm),
          ref("dw_gate", dw_gate),
          ref("dw_up", dw_up),
          ref("dw_down", dw_down)};
}

void BlockGrads::zero() {
  for (auto& t : tensors()) std::fill_n(t.data, t.size(), 0.f);
}

void init_block_weights(BlockWeights& w, const BlockConfig& cfg, std::uint64_t seed) {
  cfg.validate();
  if (w.wq.data() == nullptr) w = BlockWeights(cfg);
  const auto ts = w.tensors();
  for (std::size_t s = 0; s < ts.size(); ++s) {
    const auto& t = ts[s];
    if (t.shape.size() == 1) {  // norm weight: 1 ± 0.1, so a wrong norm weight shows
      fill_seeded(t.data, t.size(), seed, s, 0.1f, 1.f);
    } else {  // [out, in]: variance 1/in
      fill_seeded(t.data, t.size(), seed, s, float(std::sqrt(3.0 / double(t.shape[1]))));
    }
    if (cfg.precision == Precision::bf16) round_bf16(t.data, t.size());
  }
}

Array3 make_block_input(const BlockConfig& cfg, std::uint64_t seed) {
  cfg.validate();
  Array3 x(Kokkos::ViewAllocateWithoutInitializing("x"), cfg.B, cfg.L, cfg.d);
  fill_seeded(x.data(), x.size(), seed, kStreamX, 1.f);
  if (cfg.precision == Precision::bf16) round_bf16(x.data(), x.size());
  return x;
}

Array3 make_block_dy(const BlockConfig& cfg, std::uint64_t seed) {
  cfg.validate();
  Array3 dy(Kokkos::ViewAllocateWithoutInitializing("dy"), cfg.B, cfg.L, cfg.d);
  fill_seeded(dy.data(), dy.size(), seed, kStreamDy, 1.f);
  if (cfg.precision == Precision::bf16) round_bf16(dy.data(), dy.size());
  return dy;
}

// ---- the block ---------------------------------------------------------------------------

namespace {

Kokkos::ViewAllocateWithoutInitializing uninit(const char* name) {
  return Kokkos::ViewAllocateWithoutInitializing(name);
}

kernels::AttentionShape attention_shape(const BlockConfig& c) {
  kernels::AttentionShape s;
  s.batch = c.B;
  s.len_q = c.L;
  s.len_k = c.L;
  s.heads_q = c.H;
  s.heads_k = c.G;
  s.head_dim = c.head_dim();
  return s;
}

// The weights of a block, checked against the config (a mismatch names the tensor).
void check_weights(const BlockWeights& w, const BlockConfig& cfg, const char* where) {
  const Dims s(cfg);
  const std::vector<std::vector<Z>> want = {{s.d},       {s.hq, s.d}, {s.hk, s.d},
                                            {s.hk, s.d}, {s.d, s.hq}, {s.d},
                                            {s.i, s.d},  {s.i, s.d},  {s.d, s.i}};
  const auto ts = w.tensors();
  for (std::size_t k = 0; k < ts.size(); ++k) {
    ODY_REQUIRE(ts[k].data != nullptr && ts[k].shape == want[k],
                std::string(where) + ": " + ts[k].name, "an allocated tensor of the config's shape",
                ts[k].data == nullptr ? "unallocated" : "a tensor of ", ts[k].size(),
                " elements with another shape");
  }
}

void check_grads(const BlockGrads& g, const BlockConfig& cfg) {
  const Dims s(cfg);
  const std::vector<std::vector<Z>> want = {{s.d},       {s.hq, s.d}, {s.hk, s.d},
                                            {s.hk, s.d}, {s.d, s.hq}, {s.d},
                                            {s.i, s.d},  {s.i, s.d},  {s.d, s.i}};
  const auto ts = g.tensors();
  for (std::size_t k = 0; k < ts.size(); ++k)
    ODY_REQUIRE(ts[k].data != nullptr && ts[k].shape == want[k],
                "Block::backward: grads." + ts[k].name, "an allocated tensor of the config's shape",
                ts[k].data == nullptr ? "unallocated" : "another shape");
}

template <class V>
void check_btd(const V& v, const BlockConfig& c, const char* where) {
  ODY_REQUIRE(Index(v.extent(0)) == c.B && Index(v.extent(1)) == c.L && Index(v.extent(2)) == c.d,
              where,
              "[B, L, d] = [" + std::to_string(c.B) + ", " + std::to_string(c.L) + ", " +
                  std::to_string(c.d) + "]",
              "[", v.extent(0), ", ", v.extent(1), ", ", v.extent(2), "]");
}

}  // namespace

Block::Block(const BlockConfig& cfg) : cfg_(cfg) {
  cfg_.validate();
  const Index T = cfg.tokens(), B = cfg.B, L = cfg.L, H = cfg.H, G = cfg.G, Dh = cfg.head_dim();
  const Dims s(cfg);
  x_ = Array2(uninit("block.x"), T, s.d);
  rstd1_ = Array1(uninit("block.rstd1"), T);
  q_ = Array4(uninit("block.q"), B, L, H, Dh);
  k_ = Array4(uninit("block.k"), B, L, G, Dh);
  v_ = Array4(uninit("block.v"), B, L, G, Dh);
  o_ = Array4(uninit("block.o"), B, L, H, Dh);
  lse_ = Array3(uninit("block.lse"), B, H, L);
  h_ = Array2(uninit("block.h"), T, s.d);
  rstd2_ = Array1(uninit("block.rstd2"), T);
  gate_ = Array2(uninit("block.gate"), T, s.i);
  up_ = Array2(uninit("block.up"), T, s.i);
  pos_ = decltype(pos_)(uninit("block.pos"), L);
  rope_pos_ = cfg.doc_starts.empty() ? pos_ : decltype(pos_)(uninit("block.rope_pos"), L);
  u_ = Array2(uninit("block.u"), T, s.d);
  du_ = Array2(uninit("block.du"), T, s.d);
  big1_ = Array1(uninit("block.big1"), T * std::max(s.i, s.hq));
  big2_ = Array1(uninit("block.big2"), T * std::max(s.i, s.hq));
  dk_ = Array4(uninit("block.dk"), B, L, G, Dh);
  dv_ = Array4(uninit("block.dv"), B, L, G, Dh);
}

std::size_t Block::saved_activation_bytes(const BlockConfig& c) {
  c.validate();
  const Dims s(c);
  const Z T = c.tokens();
  const Z floats = 2 * T * s.d            // x, h
                   + 2 * T * s.hq         // q, o
                   + 2 * T * s.hk         // k, v
                   + 2 * T * s.i          // gate, up
                   + 2 * T                // rstd1, rstd2
                   + Z(c.B * c.H * c.L);  // lse
  return floats * sizeof(float) + Z(c.doc_starts.empty() ? 1 : 2) * c.L * sizeof(Pos);
}

std::size_t Block::workspace_bytes(const BlockConfig& c) {
  c.validate();
  const Dims s(c);
  const Z T = c.tokens();
  return (2 * T * s.d + 2 * T * std::max(s.i, s.hq) + 2 * T * s.hk) * sizeof(float);
}

std::size_t Block::peak_bytes(const BlockConfig& c) {
  const kernels::AttentionShape s = attention_shape(c);
  return saved_activation_bytes(c) + workspace_bytes(c) +
         std::max(kernels::attention_forward_workspace_bytes<float>(s),
                  kernels::attention_backward_workspace_bytes<float>(s));
}

std::size_t Block::parameter_bytes(const BlockConfig& c) {
  c.validate();
  const Dims s(c);
  return (2 * s.d + 2 * s.hq * s.d + 2 * s.hk * s.d + 3 * s.i * s.d) * sizeof(float);
}

void Block::forward(Span3<float> y, Span3<const float> x, const BlockWeights& w,
                    Span1<const Pos> positions, Profile* profile) {
  const BlockConfig& c = cfg_;
  check_btd(x, c, "Block::forward: x");
  check_btd(y, c, "Block::forward: y");
  check_weights(w, c, "Block::forward: weights");
  ODY_REQUIRE(positions.data() == nullptr || Index(positions.extent(0)) == c.L,
              "Block::forward: positions", "[L] or empty", "[", positions.extent(0),
              "] vs L = ", c.L);
  const Z T = c.tokens(), d = c.d;
  const Dims s(c);
  const Mat<const float> u(u_);
  const PrecisionScope precision(c.precision);
  saved_ = false;
  {
    ProfileTimer t(profile, &Profile::other_s);
    std::copy_n(x.data(), T * d, x_.data());
    for (Index l = 0; l < c.L; ++l) pos_(l) = positions.data() ? positions(l) : l;
    if (!c.doc_starts.empty()) rope_positions(c.doc_starts, pos_.data(), c.L, rope_pos_.data());
    rmsnorm_forward(u_, rstd1_, x_, w.attn_norm);
  }
  // Projections straight into the [B, L, heads, Dh] layouts ([T, heads·Dh] row-major).
  const Span2<float> q2(q_.data(), T, s.hq), k2(k_.data(), T, s.hk), v2(v_.data(), T, s.hk);
  {
    ProfileTimer t(profile, &Profile::gemm_s);
    linear_forward(q2, u, w.wq);
    linear_forward(k2, u, w.wk);
    linear_forward(v2, u, w.wv);
  }
  {
    ProfileTimer t(profile, &Profile::other_s);
    rope_forward(q_, q_, rope_pos_);
    rope_forward(k_, k_, rope_pos_);
  }
  {
    ProfileTimer t(profile, &Profile::attention_s);
    kernels::AttentionOptions opt;
    opt.causal = c.causal;
    layers::set_documents(opt, c.doc_starts);
    kernels::attention_forward<float, float>(o_.data(), lse_.data(), q_.data(), k_.data(),
                                             v_.data(), pos_.data(), pos_.data(),
                                             attention_shape(c), opt);
    round_activations(o_.data(), o_.size());  // the kernel's fp32 output, stored as an activation
  }
  {
    ProfileTimer t(profile, &Profile::other_s);
    std::copy_n(x_.data(), T * d, h_.data());  // residual, then h += o woᵀ in the GEMM
  }
  {
    ProfileTimer t(profile, &Profile::gemm_s);
    linear_forward(h_, Span2<const float>(o_.data(), T, s.hq), w.wo, Accum::kAdd);
  }
  {
    ProfileTimer t(profile, &Profile::other_s);
    rmsnorm_forward(u_, rstd2_, h_, w.mlp_norm);
    std::copy_n(h_.data(), T * d, y.data());
  }
  const Span2<float> act(big1_.data(), T, s.i);
  {
    ProfileTimer t(profile, &Profile::gemm_s);
    linear_forward(gate_, u, w.w_gate);
    linear_forward(up_, u, w.w_up);
  }
  {
    ProfileTimer t(profile, &Profile::other_s);
    swiglu_forward(act, gate_, up_);
  }
  {
    ProfileTimer t(profile, &Profile::gemm_s);
    linear_forward(Span2<float>(y.data(), T, d), act, w.w_down, Accum::kAdd);  // y = h + MLP(u)
  }
  saved_ = true;
}

void Block::backward(Span3<float> dx, const BlockGrads& g, Span3<const float> dy,
                     const BlockWeights& w, Accum mode, Profile* profile) {
  const BlockConfig& c = cfg_;
  ODY_REQUIRE(saved_, "Block::backward", "a preceding successful forward", "none");
  check_btd(dy, c, "Block::backward: dy");
  check_btd(dx, c, "Block::backward: dx");
  check_weights(w, c, "Block::backward: weights");
  check_grads(g, c);
  const Z T = c.tokens(), d = c.d;
  const Dims s(c);
  const Span2<float> dh(dx.data(), T, d);  // dx accumulates dh first, then dh + attention part
  const Span2<const float> dy2(dy.data(), T, d);
  const Mat<const float> u(u_);
  const PrecisionScope precision(c.precision);

  // ---- MLP: y = h + down(swiglu(gate, up)), u = RMSNorm(h) ----
  const Span2<float> s1(big1_.data(), T, s.i), s2(big2_.data(), T, s.i);
  {
    ProfileTimer t(profile, &Profile::other_s);
    std::copy_n(dy.data(), T * d, dx.data());             // residual: dh = dy + ...
    rmsnorm_forward(u_, Span1<float>(), h_, w.mlp_norm);  // recompute u (bitwise as in forward)
    swiglu_forward(s1, gate_, up_);                       // recompute act
  }
  {
    ProfileTimer t(profile, &Profile::gemm_s);
    // dW_down = dyᵀ act, then dact = dy W_down over act (linear_backward does dW first).
    linear_backward(s1, g.dw_down, dy2, s1, w.w_down, Accum::kOverwrite, mode);
  }
  {
    ProfileTimer t(profile, &Profile::other_s);
    swiglu_backward(s1, s2, s1, gate_, up_);  // dgate in place over dact, dup into s2
  }
  {
    ProfileTimer t(profile, &Profile::gemm_s);
    linear_backward(du_, g.dw_gate, s1, u, w.w_gate, Accum::kOverwrite, mode);
    linear_backward(du_, g.dw_up, s2, u, w.w_up, Accum::kAdd, mode);
  }
  {
    ProfileTimer t(profile, &Profile::other_s);
    rmsnorm_backward(dh, g.dmlp_norm, du_, h_, w.mlp_norm, rstd2_, Accum::kAdd, mode);
  }

  // ---- attention: h = x + o woᵀ, o = attn(rope(u wqᵀ), rope(u wkᵀ), u wvᵀ), u = RMSNorm(x) ----
  const Span2<float> do2(big1_.data(), T, s.hq), dq2(big2_.data(), T, s.hq);
  {
    ProfileTimer t(profile, &Profile::gemm_s);
    linear_backward(do2, g.dwo, dh, Span2<const float>(o_.data(), T, s.hq), w.wo, Accum::kOverwrite,
                    mode);
  }
  const Span4<float> dq4(big2_.data(), c.B, c.L, c.H, c.head_dim());
  {
    ProfileTimer t(profile, &Profile::attention_s);
    kernels::AttentionOptions opt;
    opt.causal = c.causal;
    layers::set_documents(opt, c.doc_starts);
    kernels::attention_backward<float, float>(
        dq4.data(), dk_.data(), dv_.data(), do2.data(), q_.data(), k_.data(), v_.data(), o_.data(),
        lse_.data(), pos_.data(), pos_.data(), attention_shape(c), opt);
    round_activations(dq4.data(), dq4.size());  // fp32 kernel gradients -> activation gradients
    round_activations(dk_.data(), dk_.size());
    round_activations(dv_.data(), dv_.size());
  }
  {
    ProfileTimer t(profile, &Profile::other_s);
    rope_backward(dq4, dq4, rope_pos_);
    rope_backward(dk_, dk_, rope_pos_);
    rmsnorm_forward(u_, Span1<float>(), x_, w.attn_norm);  // recompute u
  }
  {
    ProfileTimer t(profile, &Profile::gemm_s);
    linear_backward(du_, g.dwq, dq2, u, w.wq, Accum::kOverwrite, mode);
    linear_backward(du_, g.dwk, Span2<const float>(dk_.data(), T, s.hk), u, w.wk, Accum::kAdd,
                    mode);
    linear_backward(du_, g.dwv, Span2<const float>(dv_.data(), T, s.hk), u, w.wv, Accum::kAdd,
                    mode);
  }
  {
    ProfileTimer t(profile, &Profile::other_s);
    rmsnorm_backward(dh, g.dattn_norm, du_, x_, w.attn_norm, rstd1_, Accum::kAdd, mode);
  }
}

}  // namespace ody::layers
