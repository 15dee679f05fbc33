#include "strategies/odysseus.hpp"

#include "base/error.hpp"

namespace ody::strategies {

using namespace layers;
using Z = std::int64_t;

void Odysseus::check(const BlockConfig& cfg, int n) {
  TpAttention::check(cfg, n, "odysseus");
  Zero3Mlp::check(cfg, n, "odysseus");
}

Odysseus::Odysseus(const BlockConfig& cfg, comm::Communicator& comm, WeightMode mode)
    : Strategy((check(cfg, comm.size()), cfg), comm, TokenLayout::contiguous, "odysseus: L"),
      attn_(cfg, comm),
      mlp_(cfg, comm, cfg.B * (cfg.L / comm.size())) {
  ODY_REQUIRE(mode == WeightMode::zero3_mlp, "odysseus: weight mode", "zero3_mlp", to_string(mode));
}

void Odysseus::set_weights(const BlockWeights& full) {
  attn_.set_weights(full);
  mlp_.set_weights(full);
}

void Odysseus::do_forward(Span3<float> y, Span3<const float> x) {
  mlp_.post_gathers();      // prefetch: in flight while attention runs
  float* h = mlp_.input();  // h straight into the buffer the MLP saves it in
  attn_.forward(h, x.data());
  mlp_.forward(y.data(), h);
}

void Odysseus::do_backward(Span3<float> dx, Span3<const float> dy) {
  const Z d = cfg_.d;
  mlp_.post_gathers();
  mlp_.backward(
      dx.data(),
      dy.data());  // dh, in dx; its gradient reduce-scatters travel during attention backward
  attn_.backward(dx.data(), dx.data());  // dx = dh + the attention branch's input gradient
  std::vector<float> norms(2 * d);
  std::copy_n(attn_.dattn_norm_.data(), d, norms.begin());
  std::copy_n(mlp_.dmlp_norm_.data(), d, norms.begin() + d);
  comm_->all_reduce(comm::cbuf(norms), comm::buf(norms), comm::ReduceOp::sum);
  std::copy_n(norms.begin(), d, attn_.dattn_norm_.data());
  std::copy_n(norms.begin() + d, d, mlp_.dmlp_norm_.data());
  mlp_.finish();
}

void Odysseus::gather_grads(const BlockGrads& full) {
  attn_.gather_grads(full);
  std::copy_n(attn_.dattn_norm_.data(), cfg_.d, full.dattn_norm.data());
  std::copy_n(mlp_.dmlp_norm_.data(), cfg_.d, full.dmlp_norm.data());
  mlp_.gather_grads(full);
}

}  // namespace ody::strategies
