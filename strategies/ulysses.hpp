#pragma once
// DeepSpeed-Ulysses (docs/algorithms.md 3.2): contiguous layout, replicated weights.
// Norm and q/k/v projections on the local L/N tokens (RoPE with global positions), then
// all-to-all q, k, v from sequence-sharded [B, L/N, h, Dh] to head-sharded [B, L, h/N, Dh]
// (the three in flight together on tags 0, 1, 2), attention over the whole sequence with
// the local heads, all-to-all of the output back, wo and the MLP on local tokens.
// Backward: the four all-to-alls in reverse (dout; dq, dk, dv together), then one
// all-reduce (sum) of all nine weight gradients packed in one buffer.
//
// GQA with G < N (N % G == 0): kv heads are replicated so that each rank gets the one kv
// head its query heads read; in backward the replicas' dk/dv are summed into it.
// WeightMode::zero3 (zero3.hpp): all weights sharded 1/N, gathered before forward and
// again before backward, gradients reduce-scattered (instead of the all-reduce).
//
// Memory: all-to-all buffers live only while their exchange does (with B = 1 the head-
// sharded tensors are received and sent in place, no packing); the MLP's [T, i] work runs
// in row blocks (layers/row_blocked_mlp.hpp) with dgate/dup written over the saved gate/up; saved
// activations are released in backward as soon as they are dead.
// Needs L % N == 0, H % N == 0, and G % N == 0 or N % G == 0.
#include "strategies/full_weights.hpp"
#include "strategies/strategy.hpp"

namespace ody::strategies {

class Ulysses final : public Strategy {
 public:
  Ulysses(const BlockConfig& cfg, comm::Communicator& comm,
          WeightMode mode = WeightMode::replicated);
  std::string_view name() const override { return "ulysses"; }
  TokenLayout layout() const override { return TokenLayout::contiguous; }
  WeightMode weight_mode() const override { return mode_; }
  std::vector<MeshDim> mesh_dims() const override { return {{"ulysses", comm_->size()}}; }
  void set_weights(const layers::BlockWeights& full) override;
  void gather_grads(const layers::BlockGrads& full) override;
  std::uint64_t attention_pairs() const override;  // all L rows, H/N heads
  Cost cost() const override { return cost(cfg_, comm_->size(), comm_->rank(), mode_); }
  static Cost cost(const BlockConfig& cfg, int n, int rank,
                   WeightMode mode = WeightMode::replicated);
  // Throws ody::Error naming the rule when cfg cannot run on n ranks.
  static void check(const BlockConfig& cfg, int n);

 private:
  void do_forward(Span3<float> y, Span3<const float> x) override;
  void do_backward(Span3<float> dx, Span3<const float> dy) override;
  WeightMode mode_;
  std::unique_ptr<FullWeights> weights_;
  // Saved by forward for backward (T = B·L/N local tokens); backward releases each as soon
  // as it is dead and forward allocates them again. The normed inputs of the two RMSNorms
  // are not kept: backward recomputes them from x / h (the same values).
  layers::Array2 x_, h_, gate_, up_;            // [T, d] / [T, i]
  layers::Array1 rstd1_, rstd2_;                // [T]
  layers::Array2 o_;                            // [T, H·Dh] attention output, local tokens
  std::vector<float> qh_, kh_, vh_, oh_, lse_;  // head-sharded [B, L, h/N, Dh], lse [B, H/N, L]
  std::vector<Pos> pos_full_;                   // 0..L-1
};

}  // namespace ody::strategies
