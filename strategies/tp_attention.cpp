#include "strategies/tp_attention.hpp"

#include <numeric>

#include "base/error.hpp"
#include "kernels/attention.hpp"
#include "layers/documents.hpp"
#include "layers/linear.hpp"
#include "layers/rmsnorm.hpp"
#include "layers/rope.hpp"
#include "strategies/block_parts.hpp"
#include "strategies/seq_exchange.hpp"
#include "strategies/weight_slices.hpp"
#include "strategies/work.hpp"

namespace ody::strategies {

using namespace layers;
using Z = std::int64_t;

std::uint64_t TpAttention::attention_pairs() const {
  return visible_pairs(cfg_, pos_full_) * std::uint64_t(hq_);
}

void TpAttention::check(const BlockConfig& cfg, int n, const char* who) {
  cfg.validate();
  const std::string w(who);
  check_layout(TokenLayout::contiguous, cfg.L, n, (w + ": L").c_str());
  check_divisible((w + ": H (query heads are sharded over the group)").c_str(), "H", cfg.H, "N", n);
  check_divisible((w + ": G (kv heads are sharded over the group)").c_str(), "G", cfg.G, "N", n);
}

namespace {
template <class T>
void release(std::vector<T>& v) {
  std::vector<T>().swap(v);
}
// Rows of [B, Lg, w]: member order -> group order (dst[map[j]] = src[j]) or back (inverse).
void permute_rows(const float* src, float* dst, Z B, Z Lg, Z w, const std::vector<Z>& map,
                  bool inverse) {
  for (Z b = 0; b < B; ++b)
    for (Z j = 0; j < Lg; ++j) {
      const Z from = inverse ? map[j] : j, to = inverse ? j : map[j];
      std::copy_n(src + (b * Lg + from) * w, w, dst + (b * Lg + to) * w);
    }
}
}  // namespace

TpAttention::TpAttention(const BlockConfig& cfg, comm::Communicator& comm, comm::Communicator* ring,
                         TokenLayout layout)
    : cfg_(cfg), comm_(&comm) {
  const int n = comm.size(), R = ring ? ring->size() : 1;
  const Z Dh = cfg.head_dim(), T = cfg.B * cfg.L / (n * R);
  hq_ = cfg.H / n;
  hk_ = cfg.G / n;
  Ll_ = cfg.L / (n * R);
  Lg_ = n * Ll_;
  attn_norm_ = Array1("attn_norm", cfg.d);
  dattn_norm_ = Array1("dattn_norm", cfg.d);
  wq_ = Array2("wq", hq_ * Dh, cfg.d);
  wk_ = Array2("wk", hk_ * Dh, cfg.d);
  wv_ = Array2("wv", hk_ * Dh, cfg.d);
  wo_ = Array2("wo", cfg.d, hq_ * Dh);
  dwq_ = Array2("dwq", hq_ * Dh, cfg.d);
  dwk_ = Array2("dwk", hk_ * Dh, cfg.d);
  dwv_ = Array2("dwv", hk_ * Dh, cfg.d);
  dwo_ = Array2("dwo", cfg.d, hq_ * Dh);
  x_ = Array2("x", T, cfg.d);
  rstd_ = Array1("rstd", T);
  if (!ring) {
    pos_full_.resize(cfg.L);
    std::iota(pos_full_.begin(), pos_full_.end(), Pos(0));
    return;
  }
  const bool balanced = cfg.causal && layout == TokenLayout::zigzag;
  GroupRows rows = group_rows(layout, cfg.L, n, R, balanced, cfg.doc_starts);
  map_ = std::move(rows.map);
  pos_full_ = rows.block_pos[ring->rank()];
  ring_ = std::make_unique<RingAttention>(
      *ring, RingAttention::Shape{cfg.B, Lg_, hq_, hk_, Dh, detail::bf16_wire(cfg)}, cfg.causal,
      std::move(rows.block_pos), balanced, cfg.doc_starts);
}

void TpAttention::set_weights(const BlockWeights& full) {
  const int r = comm_->rank();
  const Z Dh = cfg_.head_dim();
  std::copy_n(full.attn_norm.data(), cfg_.d, attn_norm_.data());
  wq_ = detail::rows_of(full.wq, r * hq_ * Dh, hq_ * Dh);
  wk_ = detail::rows_of(full.wk, r * hk_ * Dh, hk_ * Dh);
  wv_ = detail::rows_of(full.wv, r * hk_ * Dh, hk_ * Dh);
  wo_ = detail::cols_of(full.wo, r * hq_ * Dh, hq_ * Dh);
}

void TpAttention::forward(float* h, const float* x) {
  const BlockConfig& c = cfg_;
  const Z T = c.B * Ll_, TL = c.B * Lg_, d = c.d, Dh = c.head_dim(), nkv = TL * hk_ * Dh;
  const bool bf16_wire = detail::bf16_wire(c);
  std::copy_n(x, T * d, x_.data());
  u_full_ = Array2(Kokkos::ViewAllocateWithoutInitializing("u_full"), TL, d);
  {
    Array2 u(Kokkos::ViewAllocateWithoutInitializing("u"), T, d);
    rmsnorm_forward(u, rstd_, x_, attn_norm_);
    detail::gather_seq(*comm_, u.data(), u_full_.data(), scratch_, c.B, Ll_, d, 0, bf16_wire);
  }
  if (!map_.empty()) {  // member order -> the ring block's row order
    std::vector<float> tmp(u_full_.data(), u_full_.data() + TL * d);
    permute_rows(tmp.data(), u_full_.data(), c.B, Lg_, d, map_, false);
  }
  q_.resize(TL * hq_ * Dh);
  kv_.resize(2 * nkv);
  o_.resize(q_.size());
  lse_.resize(c.B * hq_ * Lg_);
  const Mat<const float> uf(u_full_);
  linear_forward(Span2<float>(q_.data(), TL, hq_ * Dh), uf, wq_);
  linear_forward(Span2<float>(kv_.data(), TL, hk_ * Dh), uf, wk_);
  linear_forward(Span2<float>(kv_.data() + nkv, TL, hk_ * Dh), uf, wv_);
  std::vector<Pos> rope_store;
  const Span1<const Pos> pos = parts::rope_pos(c, pos_full_.data(), Lg_, rope_store);
  const Span4<float> q4(q_.data(), c.B, Lg_, hq_, Dh), k4(kv_.data(), c.B, Lg_, hk_, Dh);
  rope_forward(q4, q4, pos);
  rope_forward(k4, k4, pos);
  if (ring_) {
    ring_->forward(o_.data(), lse_.data(), q_.data(), kv_.data());
  } else {
    kernels::AttentionOptions opt;
    opt.causal = c.causal;
    layers::set_documents(opt, c.doc_starts);
    kernels::attention_forward<float, float>(
        o_.data(), lse_.data(), q_.data(), kv_.data(), kv_.data() + nkv, pos_full_.data(),
        pos_full_.data(), kernels::AttentionShape{c.B, Lg_, Lg_, hq_, hk_, Dh}, opt);
  }
  round_activations(o_.data(), o_.size());  // the kernel's fp32 output, stored as an activation
  std::vector<float> partial(TL * d);
  linear_forward(Span2<float>(partial.data(), TL, d), Span2<const float>(o_.data(), TL, hq_ * Dh),
                 wo_);
  if (!map_.empty()) {  // back to member order for the reduce-scatter
    std::vector<float> tmp(partial);
    permute_rows(tmp.data(), partial.data(), c.B, Lg_, d, map_, true);
  }
  std::vector<float> local(T * d);
  detail::reduce_scatter_seq(*comm_, partial.data(), local.data(), scratch_, c.B, Ll_, d);
  for (Z e = 0; e < T * d; ++e) h[e] = x[e] + local[e];  // h = x + reduce_scatter(partial)
  round_activations(h, T * d);
  saved_ = true;
}

void TpAttention::backward(float* dx, const float* dh) {
  const BlockConfig& c = cfg_;
  const Z T = c.B * Ll_, TL = c.B * Lg_, d = c.d, Dh = c.head_dim(), nkv = TL * hk_ * Dh;
  ODY_REQUIRE(saved_, "TpAttention::backward",
              "a forward before each backward (backward consumes what it saved)",
              "no forward since the last backward");
  saved_ = false;
  const bool bf16_wire = detail::bf16_wire(c);
  Array2 dh_full(Kokkos::ViewAllocateWithoutInitializing("dh_full"), TL, d);
  detail::gather_seq(*comm_, dh, dh_full.data(), scratch_, c.B, Ll_, d, 0, bf16_wire);
  if (!map_.empty()) {
    std::vector<float> tmp(dh_full.data(), dh_full.data() + TL * d);
    permute_rows(tmp.data(), dh_full.data(), c.B, Lg_, d, map_, false);
  }
  std::vector<float> dO(TL * hq_ * Dh);
  linear_backward(Mat<float>(Span2<float>(dO.data(), TL, hq_ * Dh)), Mat<float>(dwo_),
                  Mat<const float>(dh_full),
                  Mat<const float>(Span2<const float>(o_.data(), TL, hq_ * Dh)), wo_);
  dh_full = Array2();  // dh (which may alias dx) is not read after this point
  std::vector<float> dq(q_.size()), dkv(kv_.size());
  if (ring_) {
    ring_->backward(dq.data(), dkv.data(), dO.data(), q_.data(), kv_.data(), o_.data(),
                    lse_.data());
  } else {
    kernels::AttentionOptions opt;
    opt.causal = c.causal;
    layers::set_documents(opt, c.doc_starts);
    kernels::attention_backward<float, float>(
        dq.data(), dkv.data(), dkv.data() + nkv, dO.data(), q_.data(), kv_.data(), kv_.data() + nkv,
        o_.data(), lse_.data(), pos_full_.data(), pos_full_.data(),
        kernels::AttentionShape{c.B, Lg_, Lg_, hq_, hk_, Dh}, opt);
  }
  round_activations(dq.data(), dq.size());  // fp32 kernel gradients -> activation gradients
  round_activations(dkv.data(), dkv.size());
  release(dO);  // forward's saved head-sharded tensors are dead now
  release(q_);
  release(kv_);
  release(o_);
  release(lse_);
  std::vector<Pos> rope_store;
  const Span1<const Pos> pos = parts::rope_pos(c, pos_full_.data(), Lg_, rope_store);
  const Span4<float> dq4(dq.data(), c.B, Lg_, hq_, Dh), dk4(dkv.data(), c.B, Lg_, hk_, Dh);
  rope_backward(dq4, dq4, pos);
  rope_backward(dk4, dk4, pos);
  std::vector<float> du_full(TL * d);
  const Mat<float> duf(Span2<float>(du_full.data(), TL, d));
  const Mat<const float> uf(u_full_);
  linear_backward(duf, Mat<float>(dwq_),
                  Mat<const float>(Span2<const float>(dq.data(), TL, hq_ * Dh)), uf, wq_);
  linear_backward(duf, Mat<float>(dwk_),
                  Mat<const float>(Span2<const float>(dkv.data(), TL, hk_ * Dh)), uf, wk_,
                  Accum::kAdd);
  linear_backward(duf, Mat<float>(dwv_),
                  Mat<const float>(Span2<const float>(dkv.data() + nkv, TL, hk_ * Dh)), uf, wv_,
                  Accum::kAdd);
  release(dq);
  release(dkv);
  u_full_ = Array2();
  if (!map_.empty()) {
    std::vector<float> tmp(du_full);
    permute_rows(tmp.data(), du_full.data(), c.B, Lg_, d, map_, true);
  }
  std::vector<float> du(T * d);
  detail::reduce_scatter_seq(*comm_, du_full.data(), du.data(), scratch_, c.B, Ll_, d);
  rmsnorm_backward(Span2<float>(dx, T, d), dattn_norm_, Span2<const float>(du.data(), T, d), x_,
                   attn_norm_, rstd_, Accum::kAdd, Accum::kOverwrite);
}

}  // namespace ody::strategies
