#include "strategies/odysseus.hpp"

#include "comm/error.hpp"
#include "layers/linear.hpp"
#include "layers/mlp.hpp"
#include "layers/rmsnorm.hpp"
#include "strategies/detail.hpp"

namespace ody::strategies {

using namespace layers;
using detail::Z;

void Odysseus::check(const BlockConfig& cfg, int n) {
  TpAttention::check(cfg, n, "odysseus");
  check_divisible("odysseus: i (w_gate/w_up rows are ZeRO-3 sharded)", "i", cfg.ffn, "N", n);
  check_divisible("odysseus: d (w_down rows are ZeRO-3 sharded)", "d", cfg.d, "N", n);
}

Odysseus::Odysseus(const BlockConfig& cfg, comm::Communicator& comm, WeightMode mode)
    : Strategy((check(cfg, comm.size()), cfg), comm, TokenLayout::contiguous, "odysseus: L"), attn_(cfg, comm) {
  ODY_REQUIRE(mode == WeightMode::zero3_mlp, "odysseus: weight mode", "zero3_mlp", to_string(mode));
  const int n = comm.size();
  const Z T = cfg.B * local_len(), sg = cfg.ffn / n * cfg.d, sd = cfg.d / n * cfg.ffn;
  mlp_norm_ = Array1("mlp_norm", cfg.d);
  dmlp_norm_ = Array1("dmlp_norm", cfg.d);
  w_gate_.resize(sg);
  w_up_.resize(sg);
  w_down_.resize(sd);
  dw_gate_.resize(sg);
  dw_up_.resize(sg);
  dw_down_.resize(sd);
  h_ = Array2("h", T, cfg.d);
  u_ = Array2("u", T, cfg.d);
  gate_ = Array2("gate", T, cfg.ffn);
  up_ = Array2("up", T, cfg.ffn);
  rstd_ = Array1("rstd", T);
}

void Odysseus::set_weights(const BlockWeights& full) {
  const Z r = comm_->rank();
  attn_.set_weights(full);
  std::copy_n(full.mlp_norm.data(), cfg_.d, mlp_norm_.data());
  std::copy_n(full.w_gate.data() + r * Z(w_gate_.size()), w_gate_.size(), w_gate_.begin());
  std::copy_n(full.w_up.data() + r * Z(w_up_.size()), w_up_.size(), w_up_.begin());
  std::copy_n(full.w_down.data() + r * Z(w_down_.size()), w_down_.size(), w_down_.begin());
}

void Odysseus::post_weight_gathers(comm::WorkPtr& gate, comm::WorkPtr& up, comm::WorkPtr& down) {
  const int n = comm_->size();
  gate_full_.resize(w_gate_.size() * n);
  up_full_.resize(w_up_.size() * n);
  down_full_.resize(w_down_.size() * n);
  gate = comm_->all_gather_async(comm::cbuf(w_gate_), comm::buf(gate_full_), 1);
  up = comm_->all_gather_async(comm::cbuf(w_up_), comm::buf(up_full_), 2);
  down = comm_->all_gather_async(comm::cbuf(w_down_), comm::buf(down_full_), 3);
}

void Odysseus::release_full_weights() {
  std::vector<float>().swap(gate_full_);
  std::vector<float>().swap(up_full_);
  std::vector<float>().swap(down_full_);
}

void Odysseus::forward(Span3<float> y, Span3<const float> x) {
  const BlockConfig& c = cfg_;
  const Z Ll = local_len(), T = c.B * Ll, d = c.d, i = c.ffn;
  ODY_REQUIRE(Z(x.extent(0)) == c.B && Z(x.extent(1)) == Ll && Z(x.extent(2)) == d, "odysseus forward: x",
              "[B, L/N, d]", "[", x.extent(0), ", ", x.extent(1), ", ", x.extent(2), "]");
  comm::WorkPtr wg, wu, wd;
  post_weight_gathers(wg, wu, wd);  // prefetch: in flight while attention runs
  attn_.forward(h_.data(), x.data());
  rmsnorm_forward(u_, rstd_, h_, mlp_norm_);
  std::vector<float> act(T * i);
  std::copy_n(h_.data(), T * d, y.data());
  wg->wait();
  wu->wait();
  wd->wait();
  const MlpWeights<HostSpace> w{make_mat<const float>(gate_full_.data(), i, d, d),
                                make_mat<const float>(up_full_.data(), i, d, d),
                                make_mat<const float>(down_full_.data(), d, i, i)};
  mlp_forward(Mat<float>(Span2<float>(y.data(), T, d)), gate_, up_, Span2<float>(act.data(), T, i),
              Mat<const float>(u_), w, Accum::kAdd);
  release_full_weights();
}

void Odysseus::backward(Span3<float> dx, Span3<const float> dy) {
  const BlockConfig& c = cfg_;
  const Z Ll = local_len(), T = c.B * Ll, d = c.d, i = c.ffn;
  ODY_REQUIRE(Z(dy.extent(0)) == c.B && Z(dy.extent(1)) == Ll && Z(dy.extent(2)) == d, "odysseus backward: dy",
              "[B, L/N, d]", "[", dy.extent(0), ", ", dy.extent(1), ", ", dy.extent(2), "]");
  comm::WorkPtr wg, wu, wd;
  post_weight_gathers(wg, wu, wd);
  std::vector<float> b1(T * i), b2(T * i), du(T * d);
  const Span2<float> act(b1.data(), T, i), dup(b2.data(), T, i);
  swiglu_forward(act, gate_, up_);  // recompute act
  std::vector<float> dgate_full(gate_full_.size()), dup_full(up_full_.size()), ddown_full(down_full_.size());
  const Span2<const float> dy2(dy.data(), T, d);
  // dW_down = dyᵀ act, dact = dy W_down (in place over act), then its reduce-scatter runs
  // while the SwiGLU backward and the next GEMMs compute.
  wd->wait();
  linear_backward(Mat<float>(act), make_mat<float>(ddown_full.data(), d, i, i), Mat<const float>(dy2),
                  Mat<const float>(act), make_mat<const float>(down_full_.data(), d, i, i));
  auto rd = comm_->reduce_scatter_async(comm::cbuf(ddown_full), comm::buf(dw_down_), comm::ReduceOp::sum, 1);
  swiglu_backward(act, dup, act, gate_, up_);  // dgate in place over dact
  wg->wait();
  const Mat<float> du_m(Span2<float>(du.data(), T, d));
  linear_backward(du_m, make_mat<float>(dgate_full.data(), i, d, d), Mat<const float>(act), Mat<const float>(u_),
                  make_mat<const float>(gate_full_.data(), i, d, d));
  auto rg = comm_->reduce_scatter_async(comm::cbuf(dgate_full), comm::buf(dw_gate_), comm::ReduceOp::sum, 2);
  wu->wait();
  linear_backward(du_m, make_mat<float>(dup_full.data(), i, d, d), Mat<const float>(dup), Mat<const float>(u_),
                  make_mat<const float>(up_full_.data(), i, d, d), Accum::kAdd);
  auto ru = comm_->reduce_scatter_async(comm::cbuf(dup_full), comm::buf(dw_up_), comm::ReduceOp::sum, 3);
  release_full_weights();
  // dh = dy + RMSNorm backward (in dx), then the attention half adds its part.
  std::copy_n(dy.data(), T * d, dx.data());
  rmsnorm_backward(Span2<float>(dx.data(), T, d), dmlp_norm_, Span2<const float>(du.data(), T, d), h_, mlp_norm_,
                   rstd_, Accum::kAdd, Accum::kOverwrite);
  std::vector<float> dh(dx.data(), dx.data() + T * d);
  attn_.backward(dx.data(), dh.data());
  std::vector<float> norms(2 * d);
  std::copy_n(attn_.dattn_norm_.data(), d, norms.begin());
  std::copy_n(dmlp_norm_.data(), d, norms.begin() + d);
  comm_->all_reduce(comm::cbuf(norms), comm::buf(norms), comm::ReduceOp::sum);
  std::copy_n(norms.begin(), d, attn_.dattn_norm_.data());
  std::copy_n(norms.begin() + d, d, dmlp_norm_.data());
  rd->wait();
  rg->wait();
  ru->wait();
}

void Odysseus::gather_grads(const BlockGrads& full) {
  attn_.gather_grads(full);
  std::copy_n(attn_.dattn_norm_.data(), cfg_.d, full.dattn_norm.data());
  std::copy_n(dmlp_norm_.data(), cfg_.d, full.dmlp_norm.data());
  comm_->all_gather(comm::cbuf(dw_gate_), comm::buf(full.dw_gate.data(), full.dw_gate.size()));
  comm_->all_gather(comm::cbuf(dw_up_), comm::buf(full.dw_up.data(), full.dw_up.size()));
  comm_->all_gather(comm::cbuf(dw_down_), comm::buf(full.dw_down.data(), full.dw_down.size()));
}

Cost Odysseus::cost(const BlockConfig& c, int n, int rank) {
  check(c, n);
  namespace tm = comm::traffic_model;
  Cost cost;
  TpAttention::add_cost(cost, c, n);
  const Z sg = c.ffn / n * c.d, sd = c.d / n * c.ffn;  // shard elements
  for (auto* s : {&cost.forward, &cost.backward}) {
    add_op(*s, comm::OpKind::allgather, tm::all_gather(sg, 4, n));
    add_op(*s, comm::OpKind::allgather, tm::all_gather(sg, 4, n));
    add_op(*s, comm::OpKind::allgather, tm::all_gather(sd, 4, n));
  }
  add_op(cost.backward, comm::OpKind::reducescatter, tm::reduce_scatter(sg, 4, n));
  add_op(cost.backward, comm::OpKind::reducescatter, tm::reduce_scatter(sg, 4, n));
  add_op(cost.backward, comm::OpKind::reducescatter, tm::reduce_scatter(sd, 4, n));
  add_op(cost.backward, comm::OpKind::allreduce, tm::all_reduce(2 * c.d, 4, n, rank));
  return cost;
}

}  // namespace ody::strategies
