#pragma once
// Odysseus (docs/algorithms.md 3.4): attention exactly as TP-SP (tp_attention.hpp: head-
// sharded attention weights, no gradient synchronisation for them), MLP sequence-local on
// the L/N tokens with ZeRO-3 sharded weights: w_gate, w_up as [i/N, d] row blocks, w_down
// as [d/N, i] row blocks. Norm weights replicated (one all-reduce of 2·d gradient floats).
//
// The MLP half is Zero3Mlp (zero3_mlp.hpp), shared with Odysseus x Ring.
// Overlap (the seed's README notes its MLP collectives are synchronous):
// - forward posts the three weight all-gathers (tags 1..3) BEFORE the attention half runs,
//   so they travel while attention computes; the MLP waits for them;
// - backward posts the gathers again at its start, waits for w_down only before the first
//   GEMM, and reduce-scatters each full weight gradient (sum) as soon as it is computed,
//   while the next GEMMs and the whole attention backward run; it waits at the end.
// The gathered full weights are released after use (only the shards persist).
// Needs L % N == 0, H % N == 0, G % N == 0, i % N == 0, d % N == 0.
#include <vector>

#include "strategies/strategy.hpp"
#include "strategies/tp_attention.hpp"
#include "strategies/zero3_mlp.hpp"

namespace ody::strategies {

class Odysseus final : public Strategy {
 public:
  Odysseus(const BlockConfig& cfg, comm::Communicator& comm,
           WeightMode mode = WeightMode::zero3_mlp);
  std::string_view name() const override { return "odysseus"; }
  TokenLayout layout() const override { return TokenLayout::contiguous; }
  WeightMode weight_mode() const override { return WeightMode::zero3_mlp; }
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
  Zero3Mlp mlp_;
};

}  // namespace ody::strategies
