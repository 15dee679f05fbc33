#include "strategies/tpsp.hpp"

#include "base/error.hpp"
#include "layers/mlp.hpp"
#include "layers/rmsnorm.hpp"
#include "strategies/seq_exchange.hpp"
#include "strategies/weight_slices.hpp"

namespace ody::strategies {

using namespace layers;
using Z = std::int64_t;

void TpSp::check(const BlockConfig& cfg, int n) {
  TpAttention::check(cfg, n, "tpsp");
  check_divisible("tpsp: i (MLP columns are sharded over the group)", "i", cfg.ffn, "N", n);
}

TpSp::TpSp(const BlockConfig& cfg, comm::Communicator& comm, WeightMode mode)
    : Strategy((check(cfg, comm.size()), cfg), comm, TokenLayout::contiguous, "tpsp: L"),
      attn_(cfg, comm) {
  ODY_REQUIRE(mode == WeightMode::tensor_parallel, "tpsp: weight mode", "tensor_parallel",
              to_string(mode));
  const int n = comm.size();
  const Z T = cfg.B * local_len(), TL = cfg.B * cfg.L, is = cfg.ffn / n;
  mlp_norm_ = Array1("mlp_norm", cfg.d);
  dmlp_norm_ = Array1("dmlp_norm", cfg.d);
  dw_gate_ = Array2("dw_gate", is, cfg.d);
  dw_up_ = Array2("dw_up", is, cfg.d);
  dw_down_ = Array2("dw_down", cfg.d, is);
  h_ = Array2("h", T, cfg.d);
  u_full_ = Array2("u_full", TL, cfg.d);
  gate_ = Array2("gate", TL, is);
  up_ = Array2("up", TL, is);
  rstd_ = Array1("rstd", T);
}

void TpSp::set_weights(const BlockWeights& full) {
  const Z is = cfg_.ffn / comm_->size(), r = comm_->rank();
  attn_.set_weights(full);
  std::copy_n(full.mlp_norm.data(), cfg_.d, mlp_norm_.data());
  w_gate_ = detail::rows_of(full.w_gate, r * is, is);
  w_up_ = detail::rows_of(full.w_up, r * is, is);
  w_down_ = detail::cols_of(full.w_down, r * is, is);
}

void TpSp::do_forward(Span3<float> y, Span3<const float> x) {
  const BlockConfig& c = cfg_;
  const Z Ll = local_len(), T = c.B * Ll, TL = c.B * c.L, d = c.d, is = c.ffn / comm_->size();
  const bool bf16_wire = detail::bf16_wire(c);
  attn_.forward(h_.data(), x.data());
  Array2 u("u", T, d);
  rmsnorm_forward(u, rstd_, h_, mlp_norm_);
  detail::gather_seq(*comm_, u.data(), u_full_.data(), scratch_, c.B, Ll, d, 0, bf16_wire);
  std::vector<float> partial(TL * d), act(TL * is), local(T * d);
  mlp_forward(Mat<float>(Span2<float>(partial.data(), TL, d)), gate_, up_,
              Span2<float>(act.data(), TL, is), Mat<const float>(u_full_),
              MlpWeights<HostSpace>{w_gate_, w_up_, w_down_});
  detail::reduce_scatter_seq(*comm_, partial.data(), local.data(), scratch_, c.B, Ll, d);
  for (Z e = 0; e < T * d; ++e) y.data()[e] = h_.data()[e] + local[e];
  round_activations(y.data(), T * d);
}

void TpSp::do_backward(Span3<float> dx, Span3<const float> dy) {
  const BlockConfig& c = cfg_;
  const Z Ll = local_len(), T = c.B * Ll, TL = c.B * c.L, d = c.d, is = c.ffn / comm_->size();
  Array2 dy_full("dy_full", TL, d);
  detail::gather_seq(*comm_, dy.data(), dy_full.data(), scratch_, c.B, Ll, d, 0,
                     detail::bf16_wire(c));
  std::vector<float> du_full(TL * d), s1(TL * is), s2(TL * is), du(T * d);
  mlp_backward(Mat<float>(Span2<float>(du_full.data(), TL, d)),
               MlpGrads<HostSpace>{dw_gate_, dw_up_, dw_down_}, Mat<const float>(dy_full),
               Mat<const float>(u_full_), MlpWeights<HostSpace>{w_gate_, w_up_, w_down_}, gate_,
               up_, Span2<float>(s1.data(), TL, is), Span2<float>(s2.data(), TL, is));
  detail::reduce_scatter_seq(*comm_, du_full.data(), du.data(), scratch_, c.B, Ll, d);
  // dh = dy + RMSNorm backward of du (in dx), then dx = dh + attention branch.
  std::copy_n(dy.data(), T * d, dx.data());
  rmsnorm_backward(Span2<float>(dx.data(), T, d), dmlp_norm_, Span2<const float>(du.data(), T, d),
                   h_, mlp_norm_, rstd_, Accum::kAdd, Accum::kOverwrite);
  std::vector<float> dh(dx.data(), dx.data() + T * d);
  attn_.backward(dx.data(), dh.data());
  // Replicated norm weights: sum the partial gradients (one buffer of 2·d).
  std::vector<float> norms(2 * d);
  std::copy_n(attn_.dattn_norm_.data(), d, norms.begin());
  std::copy_n(dmlp_norm_.data(), d, norms.begin() + d);
  comm_->all_reduce(comm::cbuf(norms), comm::buf(norms), comm::ReduceOp::sum);
  std::copy_n(norms.begin(), d, attn_.dattn_norm_.data());
  std::copy_n(norms.begin() + d, d, dmlp_norm_.data());
}

void TpSp::gather_grads(const BlockGrads& full) {
  attn_.gather_grads(full);
  std::copy_n(attn_.dattn_norm_.data(), cfg_.d, full.dattn_norm.data());
  std::copy_n(dmlp_norm_.data(), cfg_.d, full.dmlp_norm.data());
  detail::gather_rows(*comm_, dw_gate_, full.dw_gate);
  detail::gather_rows(*comm_, dw_up_, full.dw_up);
  detail::gather_cols(*comm_, dw_down_, full.dw_down);
}

}  // namespace ody::strategies
