#include "strategies/zero3_mlp.hpp"

#include "base/error.hpp"
#include "layers/linear.hpp"
#include "layers/mlp.hpp"
#include "layers/rmsnorm.hpp"
#include "layers/row_blocked_mlp.hpp"
#include "strategies/wire.hpp"

namespace ody::strategies {

using namespace layers;
using Z = std::int64_t;

void Zero3Mlp::check(const BlockConfig& cfg, int n, const char* who) {
  const std::string w(who);
  check_divisible((w + ": i (w_gate/w_up rows are ZeRO-3 sharded)").c_str(), "i", cfg.ffn, "N", n);
  check_divisible((w + ": d (w_down rows are ZeRO-3 sharded)").c_str(), "d", cfg.d, "N", n);
}

Zero3Mlp::Zero3Mlp(const BlockConfig& cfg, comm::Communicator& comm, Z tokens)
    : cfg_(cfg), comm_(&comm), T_(tokens) {
  const int n = comm.size();
  const Z sg = cfg.ffn / n * cfg.d, sd = cfg.d / n * cfg.ffn;
  mlp_norm_ = Array1("mlp_norm", cfg.d);
  dmlp_norm_ = Array1("dmlp_norm", cfg.d);
  w_gate_.resize(sg);
  w_up_.resize(sg);
  w_down_.resize(sd);
  dw_gate_.resize(sg);
  dw_up_.resize(sg);
  dw_down_.resize(sd);
  rstd_ = Array1("rstd", T_);
}

namespace {
void release(std::vector<float>& v) { std::vector<float>().swap(v); }
Kokkos::ViewAllocateWithoutInitializing uninit(const char* name) {
  return Kokkos::ViewAllocateWithoutInitializing(name);
}
}  // namespace

float* Zero3Mlp::input() {
  if (h_.data() == nullptr) h_ = Array2(uninit("h"), T_, cfg_.d);
  return h_.data();
}

void Zero3Mlp::set_weights(const BlockWeights& full) {
  const Z r = comm_->rank();
  std::copy_n(full.mlp_norm.data(), cfg_.d, mlp_norm_.data());
  std::copy_n(full.w_gate.data() + r * Z(w_gate_.size()), w_gate_.size(), w_gate_.begin());
  std::copy_n(full.w_up.data() + r * Z(w_up_.size()), w_up_.size(), w_up_.begin());
  std::copy_n(full.w_down.data() + r * Z(w_down_.size()), w_down_.size(), w_down_.begin());
}

void Zero3Mlp::post_gathers() {
  const int n = comm_->size();
  if (detail::bf16_wire(cfg_)) {
    auto post = [&](const std::vector<float>& shard, std::vector<bf16>& send,
                    std::vector<bf16>& full, comm::Tag t) {
      send.resize(shard.size());
      detail::convert_n(shard.data(), Z(shard.size()), send.data());
      full.resize(shard.size() * n);
      return comm_->all_gather_async(comm::cbuf(send), comm::buf(full), t);
    };
    wg_ = post(w_gate_, send_g_, gate_h_, 1);
    wu_ = post(w_up_, send_u_, up_h_, 2);
    wd_ = post(w_down_, send_d_, down_h_, 3);
    return;
  }
  gate_full_.resize(w_gate_.size() * n);
  up_full_.resize(w_up_.size() * n);
  down_full_.resize(w_down_.size() * n);
  wg_ = comm_->all_gather_async(comm::cbuf(w_gate_), comm::buf(gate_full_), 1);
  wu_ = comm_->all_gather_async(comm::cbuf(w_up_), comm::buf(up_full_), 2);
  wd_ = comm_->all_gather_async(comm::cbuf(w_down_), comm::buf(down_full_), 3);
}

void Zero3Mlp::await(const comm::WorkPtr& w, std::vector<bf16>& wire, std::vector<float>& full) {
  w->wait();
  if (!detail::bf16_wire(cfg_) || wire.empty()) return;
  full.resize(wire.size());
  detail::convert_n(wire.data(), Z(wire.size()), full.data());
  std::vector<bf16>().swap(wire);
}

void Zero3Mlp::forward(float* y, const float* h) {
  const Z T = T_, d = cfg_.d, i = cfg_.ffn;
  if (h != input()) std::copy_n(h, T * d, h_.data());
  gate_ = Array2(uninit("gate"), T, i);
  up_ = Array2(uninit("up"), T, i);
  await(wg_, gate_h_, gate_full_);
  await(wu_, up_h_, up_full_);
  // Row blocks (layers/row_blocked_mlp.hpp): the normed input is not kept (backward recomputes it).
  layers::mlp_up_forward(gate_.data(), up_.data(), rstd_.data(), h_.data(), T, d, i, mlp_norm_,
                         make_mat<const float>(gate_full_.data(), i, d, d),
                         make_mat<const float>(up_full_.data(), i, d, d));
  release(gate_full_);  // each gathered weight is dropped as soon as it is used
  release(up_full_);
  std::copy_n(h_.data(), T * d, y);
  await(wd_, down_h_, down_full_);
  layers::mlp_down_forward(Mat<float>(Span2<float>(y, T, d)), gate_.data(), up_.data(), T, i,
                           make_mat<const float>(down_full_.data(), d, i, i), Accum::kAdd);
  release(down_full_);
  saved_ = true;
}

void Zero3Mlp::backward(float* dh, const float* dy) {
  const Z T = T_, d = cfg_.d, i = cfg_.ffn;
  ODY_REQUIRE(saved_, "Zero3Mlp::backward",
              "a forward before each backward (backward consumes what it saved)",
              "no forward since the last backward");
  saved_ = false;
  // Row blocks (layers/row_blocked_mlp.hpp): dW_down = dyᵀ act and dgate, dup over the saved gate,
  // up; the dW_down reduce-scatter runs while the next GEMMs compute. Each full weight is dropped
  // once used and each full gradient allocated only when computed.
  await(wd_, down_h_, down_full_);
  ddown_full_.resize(down_full_.size());
  layers::mlp_down_backward(make_mat<float>(ddown_full_.data(), d, i, i), gate_.data(), up_.data(),
                            T, i, Mat<const float>(Span2<const float>(dy, T, d)),
                            make_mat<const float>(down_full_.data(), d, i, i));
  rd_ = comm_->reduce_scatter_async(comm::cbuf(ddown_full_), comm::buf(dw_down_),
                                    comm::ReduceOp::sum, 1);
  release(down_full_);
  if (dh != dy) std::copy_n(dy, T * d, dh);  // dh = dy + the branch's input gradient
  await(wg_, gate_h_, gate_full_);
  await(wu_, up_h_, up_full_);
  dgate_full_.resize(gate_full_.size());
  dup_full_.resize(up_full_.size());
  layers::mlp_up_backward(dh, make_mat<float>(dgate_full_.data(), i, d, d),
                          make_mat<float>(dup_full_.data(), i, d, d), dmlp_norm_, gate_.data(),
                          up_.data(), h_.data(), rstd_.data(), T, d, i, mlp_norm_,
                          make_mat<const float>(gate_full_.data(), i, d, d),
                          make_mat<const float>(up_full_.data(), i, d, d));
  rg_ = comm_->reduce_scatter_async(comm::cbuf(dgate_full_), comm::buf(dw_gate_),
                                    comm::ReduceOp::sum, 2);
  ru_ =
      comm_->reduce_scatter_async(comm::cbuf(dup_full_), comm::buf(dw_up_), comm::ReduceOp::sum, 3);
  release(gate_full_);
  release(up_full_);
  gate_ = Array2();
  up_ = Array2();
  h_ = Array2();
}

void Zero3Mlp::finish() {
  rd_->wait();
  rg_->wait();
  ru_->wait();
  std::vector<float>().swap(dgate_full_);
  std::vector<float>().swap(dup_full_);
  std::vector<float>().swap(ddown_full_);
  for (auto* v : {&send_g_, &send_u_, &send_d_}) std::vector<bf16>().swap(*v);
}

void Zero3Mlp::gather_grads(const BlockGrads& full) {
  comm_->all_gather(comm::cbuf(dw_gate_), comm::buf(full.dw_gate.data(), full.dw_gate.size()));
  comm_->all_gather(comm::cbuf(dw_up_), comm::buf(full.dw_up.data(), full.dw_up.size()));
  comm_->all_gather(comm::cbuf(dw_down_), comm::buf(full.dw_down.data(), full.dw_down.size()));
}

// ---- expected peak memory (Cost::peak_bytes): mirrors the functions above step by step ----

}  // namespace ody::strategies
