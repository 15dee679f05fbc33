#include "strategies/ulysses.hpp"

#include <numeric>

#include "comm/error.hpp"
#include "kernels/attention.hpp"
#include "layers/linear.hpp"
#include "layers/mlp.hpp"
#include "layers/rmsnorm.hpp"
#include "layers/rope.hpp"
#include "strategies/detail.hpp"

namespace ody::strategies {

using namespace layers;
using detail::Z;

void Ulysses::check(const BlockConfig& cfg, int n) {
  cfg.validate();
  check_layout(TokenLayout::contiguous, cfg.L, n, "ulysses: L");
  check_divisible("ulysses: H (query heads are sharded over the group)", "H", cfg.H, "N", n);
  ODY_REQUIRE(cfg.G % n == 0 || n % cfg.G == 0, "ulysses: G",
              "G % N == 0 (kv heads sharded) or N % G == 0 (kv heads replicated, one per rank), N = " +
                  std::to_string(n),
              "G = ", cfg.G);
}

Ulysses::Ulysses(const BlockConfig& cfg, comm::Communicator& comm, WeightMode mode)
    : Strategy((check(cfg, comm.size()), cfg), comm, TokenLayout::contiguous, "ulysses: L"), w_(cfg), g_(cfg) {
  ODY_REQUIRE(mode == WeightMode::replicated || mode == WeightMode::zero3, "ulysses: weight mode",
              "replicated or zero3", to_string(mode));
  mode_ = mode;
  if (mode == WeightMode::zero3) zero3_ = std::make_unique<Zero3Weights>(cfg, comm);
  const Z T = cfg.B * local_len();
  x_ = Array2("x", T, cfg.d);
  u1_ = Array2("u1", T, cfg.d);
  h_ = Array2("h", T, cfg.d);
  u2_ = Array2("u2", T, cfg.d);
  gate_ = Array2("gate", T, cfg.ffn);
  up_ = Array2("up", T, cfg.ffn);
  rstd1_ = Array1("rstd1", T);
  rstd2_ = Array1("rstd2", T);
  o_ = Array2("o", T, cfg.H * cfg.head_dim());
  pos_full_.resize(cfg.L);
  std::iota(pos_full_.begin(), pos_full_.end(), Pos(0));
}

void Ulysses::set_weights(const BlockWeights& full) {
  if (zero3_) {
    zero3_->load(full);
    w_ = BlockWeights();
    return;
  }
  const auto src = full.tensors(), dst = w_.tensors();
  for (std::size_t k = 0; k < src.size(); ++k) std::copy_n(src[k].data, src[k].size(), dst[k].data);
}

void Ulysses::forward(Span3<float> y, Span3<const float> x) {
  const BlockConfig& c = cfg_;
  const int n = comm_->size();
  const Z Ll = local_len(), T = c.B * Ll, d = c.d, Dh = c.head_dim(), H = c.H, G = c.G;
  const Z hq = H / n, hk = detail::heads_per_rank(G, n);
  ODY_REQUIRE(Z(x.extent(0)) == c.B && Z(x.extent(1)) == Ll && Z(x.extent(2)) == d, "ulysses forward: x",
              "[B, L/N, d]", "[", x.extent(0), ", ", x.extent(1), ", ", x.extent(2), "]");
  if (zero3_) zero3_->gather(w_);
  std::copy_n(x.data(), T * d, x_.data());
  rmsnorm_forward(u1_, rstd1_, x_, w_.attn_norm);
  std::vector<float> q(T * H * Dh), k(T * G * Dh), v(T * G * Dh);
  linear_forward(Span2<float>(q.data(), T, H * Dh), Mat<const float>(u1_), w_.wq);
  linear_forward(Span2<float>(k.data(), T, G * Dh), Mat<const float>(u1_), w_.wk);
  linear_forward(Span2<float>(v.data(), T, G * Dh), Mat<const float>(u1_), w_.wv);
  const Span1<const Pos> lpos(pos_.data(), Ll);
  const Span4<float> q4(q.data(), c.B, Ll, H, Dh), k4(k.data(), c.B, Ll, G, Dh);
  rope_forward(q4, q4, lpos);
  rope_forward(k4, k4, lpos);
  // The three all-to-alls in flight together (distinct tags).
  auto wq = detail::seq_to_head_post(*comm_, q.data(), s1_, r1_, c.B, Ll, H, Dh, 0);
  auto wk = detail::seq_to_head_post(*comm_, k.data(), s2_, r2_, c.B, Ll, G, Dh, 1);
  auto wv = detail::seq_to_head_post(*comm_, v.data(), s3_, r3_, c.B, Ll, G, Dh, 2);
  qh_.resize(c.B * c.L * hq * Dh);
  kh_.resize(c.B * c.L * hk * Dh);
  vh_.resize(c.B * c.L * hk * Dh);
  oh_.resize(qh_.size());
  lse_.resize(c.B * hq * c.L);
  wq->wait();
  detail::seq_to_head_finish(r1_, qh_.data(), n, c.B, Ll, H, Dh);
  wk->wait();
  detail::seq_to_head_finish(r2_, kh_.data(), n, c.B, Ll, G, Dh);
  wv->wait();
  detail::seq_to_head_finish(r3_, vh_.data(), n, c.B, Ll, G, Dh);
  kernels::AttentionOptions opt;
  opt.causal = c.causal;
  const kernels::AttentionShape shape{c.B, c.L, c.L, hq, hk, Dh};
  kernels::attention_forward<float, float>(oh_.data(), lse_.data(), qh_.data(), kh_.data(), vh_.data(),
                                           pos_full_.data(), pos_full_.data(), shape, opt);
  detail::head_to_seq_post(*comm_, oh_.data(), s1_, r1_, c.B, Ll, H, Dh, 0)->wait();
  detail::head_to_seq_finish(r1_, o_.data(), n, c.B, Ll, H, Dh, false);
  std::copy_n(x_.data(), T * d, h_.data());
  linear_forward(Mat<float>(h_), Mat<const float>(o_), w_.wo, Accum::kAdd);
  rmsnorm_forward(u2_, rstd2_, h_, w_.mlp_norm);
  std::vector<float> act(T * c.ffn);
  const Span2<float> y2(y.data(), T, d);
  std::copy_n(h_.data(), T * d, y.data());
  mlp_forward(Mat<float>(y2), gate_, up_, Span2<float>(act.data(), T, c.ffn), Mat<const float>(u2_),
              MlpWeights<HostSpace>{w_.w_gate, w_.w_up, w_.w_down}, Accum::kAdd);
  if (zero3_) w_ = BlockWeights();  // only the shard persists
}

void Ulysses::backward(Span3<float> dx, Span3<const float> dy) {
  const BlockConfig& c = cfg_;
  const int n = comm_->size();
  const Z Ll = local_len(), T = c.B * Ll, d = c.d, Dh = c.head_dim(), H = c.H, G = c.G, i = c.ffn;
  const Z hq = H / n, hk = detail::heads_per_rank(G, n);
  ODY_REQUIRE(Z(dy.extent(0)) == c.B && Z(dy.extent(1)) == Ll && Z(dy.extent(2)) == d, "ulysses backward: dy",
              "[B, L/N, d]", "[", dy.extent(0), ", ", dy.extent(1), ", ", dy.extent(2), "]");
  if (zero3_) zero3_->gather(w_);  // gathered again for backward
  const Span2<float> dh(dx.data(), T, d);
  const Span2<const float> dy2(dy.data(), T, d);
  std::copy_n(dy.data(), T * d, dx.data());
  // MLP (local tokens).
  std::vector<float> du(T * d), s1(T * i), s2(T * i);
  mlp_backward(Mat<float>(Span2<float>(du.data(), T, d)),
               MlpGrads<HostSpace>{g_.dw_gate, g_.dw_up, g_.dw_down}, Mat<const float>(dy2), Mat<const float>(u2_),
               MlpWeights<HostSpace>{w_.w_gate, w_.w_up, w_.w_down}, gate_, up_, Span2<float>(s1.data(), T, i),
               Span2<float>(s2.data(), T, i));
  rmsnorm_backward(dh, g_.dmlp_norm, Span2<const float>(du.data(), T, d), h_, w_.mlp_norm, rstd2_, Accum::kAdd,
                   Accum::kOverwrite);
  // Attention output projection, then dout to head-sharded.
  std::vector<float> dO(T * H * Dh);
  linear_backward(Mat<float>(Span2<float>(dO.data(), T, H * Dh)), Mat<float>(g_.dwo), Mat<const float>(dh),
                  Mat<const float>(o_), w_.wo);
  std::vector<float> doh(qh_.size()), dqh(qh_.size()), dkh(kh_.size()), dvh(vh_.size());
  detail::seq_to_head_post(*comm_, dO.data(), s1_, r1_, c.B, Ll, H, Dh, 0)->wait();
  detail::seq_to_head_finish(r1_, doh.data(), n, c.B, Ll, H, Dh);
  kernels::AttentionOptions opt;
  opt.causal = c.causal;
  const kernels::AttentionShape shape{c.B, c.L, c.L, hq, hk, Dh};
  kernels::attention_backward<float, float>(dqh.data(), dkh.data(), dvh.data(), doh.data(), qh_.data(),
                                            kh_.data(), vh_.data(), oh_.data(), lse_.data(), pos_full_.data(),
                                            pos_full_.data(), shape, opt);
  auto wq = detail::head_to_seq_post(*comm_, dqh.data(), s1_, r1_, c.B, Ll, H, Dh, 0);
  auto wk = detail::head_to_seq_post(*comm_, dkh.data(), s2_, r2_, c.B, Ll, G, Dh, 1);
  auto wv = detail::head_to_seq_post(*comm_, dvh.data(), s3_, r3_, c.B, Ll, G, Dh, 2);
  std::vector<float> dq(T * H * Dh), dk(T * G * Dh, 0.f), dv(T * G * Dh, 0.f);
  wq->wait();
  detail::head_to_seq_finish(r1_, dq.data(), n, c.B, Ll, H, Dh, false);
  wk->wait();
  detail::head_to_seq_finish(r2_, dk.data(), n, c.B, Ll, G, Dh, true);
  wv->wait();
  detail::head_to_seq_finish(r3_, dv.data(), n, c.B, Ll, G, Dh, true);
  const Span1<const Pos> lpos(pos_.data(), Ll);
  const Span4<float> dq4(dq.data(), c.B, Ll, H, Dh), dk4(dk.data(), c.B, Ll, G, Dh);
  rope_backward(dq4, dq4, lpos);
  rope_backward(dk4, dk4, lpos);
  const Mat<float> du_m(Span2<float>(du.data(), T, d));
  linear_backward(du_m, Mat<float>(g_.dwq), Mat<const float>(Span2<const float>(dq.data(), T, H * Dh)),
                  Mat<const float>(u1_), w_.wq);
  linear_backward(du_m, Mat<float>(g_.dwk), Mat<const float>(Span2<const float>(dk.data(), T, G * Dh)),
                  Mat<const float>(u1_), w_.wk, Accum::kAdd);
  linear_backward(du_m, Mat<float>(g_.dwv), Mat<const float>(Span2<const float>(dv.data(), T, G * Dh)),
                  Mat<const float>(u1_), w_.wv, Accum::kAdd);
  rmsnorm_backward(dh, g_.dattn_norm, Span2<const float>(du.data(), T, d), x_, w_.attn_norm, rstd1_, Accum::kAdd,
                   Accum::kOverwrite);
  // Replicated weights: sum the gradients over the group, all nine in one buffer.
  if (zero3_) {  // full gradients -> this rank's shard of their sum
    zero3_->reduce_grads(g_);
    w_ = BlockWeights();
    return;
  }
  detail::all_reduce_replicated_grads(*comm_, g_);
}

void Ulysses::gather_grads(const BlockGrads& full) {
  if (zero3_) return zero3_->gather_grads(full);
  detail::copy_grads(g_, full);
}

Cost Ulysses::cost(const BlockConfig& c, int n, int rank, WeightMode mode) {
  check(c, n);
  namespace tm = comm::traffic_model;
  const Z Ll = c.L / n, Dh = c.head_dim();
  const Z hk = detail::heads_per_rank(c.G, n);
  const Z cq = c.B * Ll * c.H * Dh;  // all-to-all buffer of q / o / dq / dout (n blocks)
  const Z ckv = c.B * Ll * hk * Dh * n;
  Cost cost;
  for (auto* s : {&cost.forward, &cost.backward}) {
    add_op(*s, comm::OpKind::alltoall, tm::all_to_all(cq, 4, n));
    add_op(*s, comm::OpKind::alltoall, tm::all_to_all(ckv, 4, n));
    add_op(*s, comm::OpKind::alltoall, tm::all_to_all(ckv, 4, n));
    add_op(*s, comm::OpKind::alltoall, tm::all_to_all(cq, 4, n));
  }
  if (mode == WeightMode::zero3) {
    Zero3Weights::add_cost(cost, c, n);
    return cost;
  }
  const Z weights = 2 * c.d + (2 * c.H + 2 * c.G) * Dh * c.d + 3 * c.ffn * c.d;
  add_op(cost.backward, comm::OpKind::allreduce, tm::all_reduce(weights, 4, n, rank));
  return cost;
}

}  // namespace ody::strategies
