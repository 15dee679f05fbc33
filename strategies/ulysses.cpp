#include "strategies/ulysses.hpp"

#include <numeric>

#include "base/error.hpp"
#include "kernels/attention.hpp"
#include "layers/documents.hpp"
#include "layers/linear.hpp"
#include "layers/rmsnorm.hpp"
#include "layers/row_blocked_mlp.hpp"
#include "strategies/block_parts.hpp"
#include "strategies/head_exchange.hpp"
#include "strategies/layout.hpp"
#include "strategies/work.hpp"

namespace ody::strategies {

std::uint64_t Ulysses::attention_pairs() const {
  return visible_pairs(cfg_, pos_full_) * std::uint64_t(cfg_.H / comm_->size());
}

using namespace layers;
using Z = std::int64_t;

void Ulysses::check(const BlockConfig& cfg, int n) {
  cfg.validate();
  check_layout(TokenLayout::contiguous, cfg.L, n, "ulysses: L");
  check_divisible("ulysses: H (query heads are sharded over the group)", "H", cfg.H, "N", n);
  ODY_REQUIRE(
      cfg.G % n == 0 || n % cfg.G == 0, "ulysses: G",
      "G % N == 0 (kv heads sharded) or N % G == 0 (kv heads replicated, one per rank), N = " +
          std::to_string(n),
      "G = ", cfg.G);
}

namespace {

template <class T>
void release(std::vector<T>& v) {
  std::vector<T>().swap(v);
}
Kokkos::ViewAllocateWithoutInitializing uninit(const char* name) {
  return Kokkos::ViewAllocateWithoutInitializing(name);
}

}  // namespace

Ulysses::Ulysses(const BlockConfig& cfg, comm::Communicator& comm, WeightMode mode)
    : Strategy((check(cfg, comm.size()), cfg), comm, TokenLayout::contiguous, "ulysses: L") {
  ODY_REQUIRE(mode == WeightMode::replicated || mode == WeightMode::zero3, "ulysses: weight mode",
              "replicated or zero3", to_string(mode));
  mode_ = mode;
  weights_ = std::make_unique<FullWeights>(cfg, comm, mode);
  const Z T = cfg.B * local_len();
  x_ = Array2("x", T, cfg.d);
  rstd1_ = Array1("rstd1", T);
  rstd2_ = Array1("rstd2", T);
  pos_full_.resize(cfg.L);
  std::iota(pos_full_.begin(), pos_full_.end(), Pos(0));
}

void Ulysses::set_weights(const BlockWeights& full) { weights_->set(full); }

void Ulysses::do_forward(Span3<float> y, Span3<const float> x) {
  const BlockConfig& c = cfg_;
  const int n = comm_->size();
  const Z Ll = local_len(), T = c.B * Ll, d = c.d, Dh = c.head_dim(), H = c.H, G = c.G, i = c.ffn;
  const Z hq = H / n, hk = heads_per_rank(G, n);
  const parts::Tokens tok{c.B, Ll, pos_.data()};
  const BlockWeights& w = weights_->acquire();
  std::copy_n(x.data(), T * d, x_.data());
  std::vector<float> q(T * H * Dh), k(T * G * Dh), v(T * G * Dh);
  {
    Array2 u(uninit("u1"), T, d);  // not saved: backward recomputes it from x_
    parts::qkv_forward(c, tok, w, x_, u, rstd1_, q.data(), k.data(), v.data());
  }
  // The three all-to-alls in flight together (distinct tags); each source is dead once
  // packed into its send buffer.
  qh_.resize(c.B * c.L * hq * Dh);
  kh_.resize(c.B * c.L * hk * Dh);
  vh_.resize(c.B * c.L * hk * Dh);
  detail::with_wire(c, [&](auto wire) {
    using W = decltype(wire);
    std::vector<W> sq, rq, sk, rk, sv, rv;
    auto wq = detail::seq_to_head_post(*comm_, q.data(), sq, rq, c.B, Ll, H, Dh, 0, qh_.data());
    release(q);
    auto wk = detail::seq_to_head_post(*comm_, k.data(), sk, rk, c.B, Ll, G, Dh, 1, kh_.data());
    release(k);
    auto wv = detail::seq_to_head_post(*comm_, v.data(), sv, rv, c.B, Ll, G, Dh, 2, vh_.data());
    release(v);
    detail::seq_to_head_finish_free(wq, qh_.data(), sq, rq, n, c.B, Ll, H, Dh);
    detail::seq_to_head_finish_free(wk, kh_.data(), sk, rk, n, c.B, Ll, G, Dh);
    detail::seq_to_head_finish_free(wv, vh_.data(), sv, rv, n, c.B, Ll, G, Dh);
  });
  oh_.resize(qh_.size());
  lse_.resize(c.B * hq * c.L);
  kernels::AttentionOptions opt;
  opt.causal = c.causal;
  layers::set_documents(opt, c.doc_starts);
  const kernels::AttentionShape shape{c.B, c.L, c.L, hq, hk, Dh};
  kernels::attention_forward<float, float>(oh_.data(), lse_.data(), qh_.data(), kh_.data(),
                                           vh_.data(), pos_full_.data(), pos_full_.data(), shape,
                                           opt);
  round_activations(oh_.data(), oh_.size());  // stored (and sent) as an activation
  o_ = Array2(uninit("o"), T, H * Dh);
  detail::with_wire(c, [&](auto wire) {
    std::vector<decltype(wire)> so, ro;
    auto wo =
        detail::head_to_seq_post(*comm_, oh_.data(), so, ro, c.B, Ll, H, Dh, 0, nullptr, true);
    detail::head_to_seq_finish_free(wo, o_.data(), so, ro, n, c.B, Ll, H, Dh, false);
  });
  h_ = Array2(uninit("h"), T, d);
  parts::out_proj_forward(c, w, o_.data(), x_, h_);
  gate_ = Array2(uninit("gate"), T, i);
  up_ = Array2(uninit("up"), T, i);
  parts::mlp_forward(c, T, w, h_.data(), gate_.data(), up_.data(), rstd2_.data(), y.data());
  weights_->release();  // zero3: only the shard persists
}

void Ulysses::do_backward(Span3<float> dx, Span3<const float> dy) {
  const BlockConfig& c = cfg_;
  const int n = comm_->size();
  const Z Ll = local_len(), T = c.B * Ll, d = c.d, Dh = c.head_dim(), H = c.H, G = c.G;
  const Z hq = H / n, hk = heads_per_rank(G, n);
  const BlockWeights& w = weights_->acquire();  // zero3: gathered again for backward
  BlockGrads& g = weights_->grads();
  const Span2<float> dh(dx.data(), T, d);
  // MLP branch (row blocks): dgate, dup overwrite the saved gate, up; dh = dy + its input gradient.
  parts::mlp_backward(c, T, w, g, dy.data(), gate_.data(), up_.data(), h_.data(), rstd2_.data(),
                      dh.data());
  gate_ = Array2();
  up_ = Array2();
  h_ = Array2();
  // Attention output projection, then dout to head-sharded.
  std::vector<float> doh(qh_.size());
  detail::with_wire(c, [&](auto wire) {
    std::vector<float> dO(T * H * Dh);
    std::vector<decltype(wire)> s, r;
    linear_backward(Mat<float>(Span2<float>(dO.data(), T, H * Dh)), Mat<float>(g.dwo),
                    Mat<const float>(dh), Mat<const float>(o_), w.wo);
    o_ = Array2();
    auto work = detail::seq_to_head_post(*comm_, dO.data(), s, r, c.B, Ll, H, Dh, 0, doh.data());
    release(dO);
    detail::seq_to_head_finish_free(work, doh.data(), s, r, n, c.B, Ll, H, Dh);
  });
  std::vector<float> dqh(qh_.size()), dkh(kh_.size()), dvh(vh_.size());
  kernels::AttentionOptions opt;
  opt.causal = c.causal;
  layers::set_documents(opt, c.doc_starts);
  const kernels::AttentionShape shape{c.B, c.L, c.L, hq, hk, Dh};
  kernels::attention_backward<float, float>(
      dqh.data(), dkh.data(), dvh.data(), doh.data(), qh_.data(), kh_.data(), vh_.data(),
      oh_.data(), lse_.data(), pos_full_.data(), pos_full_.data(), shape, opt);
  for (auto* v : {&doh, &qh_, &kh_, &vh_, &oh_, &lse_}) release(*v);
  // The kernel's fp32 gradients become activation gradients (bf16 under bf16, as in Block).
  for (auto* v : {&dqh, &dkh, &dvh}) round_activations(v->data(), v->size());
  std::vector<float> dq(T * H * Dh), dk(T * G * Dh, 0.f), dv(T * G * Dh, 0.f);
  detail::with_wire(c, [&](auto wire) {
    std::vector<decltype(wire)> s1, r1, s2, r2, s3, r3;
    auto wq =
        detail::head_to_seq_post(*comm_, dqh.data(), s1, r1, c.B, Ll, H, Dh, 0, nullptr, true);
    auto wk =
        detail::head_to_seq_post(*comm_, dkh.data(), s2, r2, c.B, Ll, G, Dh, 1, nullptr, true);
    auto wv =
        detail::head_to_seq_post(*comm_, dvh.data(), s3, r3, c.B, Ll, G, Dh, 2, nullptr, true);
    detail::head_to_seq_finish_free(wq, dq.data(), s1, r1, n, c.B, Ll, H, Dh, false);
    release(dqh);  // (the send buffer of its exchange when B = 1: only now dead)
    detail::head_to_seq_finish_free(wk, dk.data(), s2, r2, n, c.B, Ll, G, Dh, true);
    release(dkh);
    detail::head_to_seq_finish_free(wv, dv.data(), s3, r3, n, c.B, Ll, G, Dh, true);
    release(dvh);
  });
  {
    std::vector<float> du(T * d);
    Array2 u(uninit("u1"), T, d);
    rmsnorm_forward(u, Span1<float>(), x_, w.attn_norm);  // as forward computed it
    parts::qkv_backward(c, {c.B, Ll, pos_.data()}, w, g, dq.data(), dk.data(), dv.data(), u, x_,
                        rstd1_, Span2<float>(du.data(), T, d), dh);
  }
  weights_->reduce();
}

void Ulysses::gather_grads(const BlockGrads& full) { weights_->gather_grads(full); }

}  // namespace ody::strategies
