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
// Needs L % N == 0, H % N == 0, and G % N == 0 or N % G == 0.
#include "strategies/strategy.hpp"
#include "strategies/zero3.hpp"

namespace ody::strategies {

class Ulysses final : public Strategy {
 public:
  Ulysses(const BlockConfig& cfg, comm::Communicator& comm, WeightMode mode = WeightMode::replicated);
  std::string_view name() const override { return "ulysses"; }
  TokenLayout layout() const override { return TokenLayout::contiguous; }
  WeightMode weight_mode() const override { return mode_; }
  std::vector<MeshDim> mesh_dims() const override { return {{"ulysses", comm_->size()}}; }
  void set_weights(const layers::BlockWeights& full) override;
  void forward(Span3<float> y, Span3<const float> x) override;
  void backward(Span3<float> dx, Span3<const float> dy) override;
  void gather_grads(const layers::BlockGrads& full) override;
  Cost cost() const override { return cost(cfg_, comm_->size(), comm_->rank(), mode_); }
  static Cost cost(const BlockConfig& cfg, int n, int rank, WeightMode mode = WeightMode::replicated);
  // Throws ody::Error naming the rule when cfg cannot run on n ranks.
  static void check(const BlockConfig& cfg, int n);

 private:
  WeightMode mode_;
  std::unique_ptr<Zero3Weights> zero3_;  // WeightMode::zero3 only
  layers::BlockWeights w_;  // zero3: gathered for one forward/backward, then released
  layers::BlockGrads g_;
  // Saved by forward (T = B·L/N local tokens).
  layers::Array2 x_, u1_, h_, u2_, gate_, up_;  // [T, d] / [T, i]
  layers::Array1 rstd1_, rstd2_;                // [T]
  layers::Array2 o_;                            // [T, H·Dh] attention output, local tokens
  std::vector<float> qh_, kh_, vh_, oh_, lse_;  // head-sharded [B, L, h/N, Dh], lse [B, H/N, L]
  std::vector<Pos> pos_full_;                   // 0..L-1
  std::vector<float> s1_, s2_, s3_, r1_, r2_, r3_;  // all-to-all scratch
};

}  // namespace ody::strategies
