#pragma once
// TP-SP: Megatron tensor parallelism with sequence parallelism (docs/algorithms.md 3.1).
// Contiguous layout. Attention: tp_attention.hpp. MLP the same pattern: all-gather the
// normed input, w_gate/w_up column parallel (rows [r·i/N, (r+1)·i/N)), w_down row
// parallel (its columns [r·i/N, (r+1)·i/N)), reduce-scatter the partial output.
// Norm weights replicated: their gradients are summed with one all-reduce of 2·d floats.
// Like the attention half, the MLP keeps its gathered input from forward, so one forward
// is 2 AG + 2 RS and one backward 2 AG + 2 RS + 1 all-reduce (all activation collectives
// of B·L/N·d floats).
// Needs L % N == 0, H % N == 0, G % N == 0, i % N == 0.
#include <memory>

#include "strategies/strategy.hpp"
#include "strategies/tp_attention.hpp"

namespace ody::strategies {

class TpSp final : public Strategy {
 public:
  TpSp(const BlockConfig& cfg, comm::Communicator& comm,
       WeightMode mode = WeightMode::tensor_parallel);
  std::string_view name() const override { return "tpsp"; }
  TokenLayout layout() const override { return TokenLayout::contiguous; }
  WeightMode weight_mode() const override { return WeightMode::tensor_parallel; }
  std::vector<MeshDim> mesh_dims() const override { return {{"tp", comm_->size()}}; }
  void set_weights(const layers::BlockWeights& full) override;
  void gather_grads(const layers::BlockGrads& full) override;
  std::uint64_t attention_pairs() const override { return attn_.attention_pairs(); }
  Cost cost() const override { return cost(cfg_, comm_->size(), comm_->rank()); }
  static Cost cost(const BlockConfig& cfg, int n, int rank);
  static void check(const BlockConfig& cfg, int n);

 private:
  void do_forward(Span3<float> y, Span3<const float> x) override;
  void do_backward(Span3<float> dx, Span3<const float> dy) override;
  TpAttention attn_;
  layers::Array1 mlp_norm_, dmlp_norm_;    // [d]
  layers::Array2 w_gate_, w_up_, w_down_;  // [i/N, d] x2, [d, i/N]
  layers::Array2 dw_gate_, dw_up_, dw_down_;
  layers::Array2 h_, u_full_, gate_, up_;  // [T, d], [B·L, d], [B·L, i/N] x2
  layers::Array1 rstd_;                    // [T]
  std::vector<float> scratch_;
};

}  // namespace ody::strategies
