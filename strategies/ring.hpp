#pragma once
// Ring attention (docs/algorithms.md 3.3), replicated weights (gradients all-reduced).
// The ring itself is RingAttention (ring_attention.hpp), shared with the hybrids.
// Layout: zigzag when causal (2N chunks; rank r holds chunk r and 2N-1-r), contiguous
// otherwise. Norm, projections (RoPE with global positions), wo and the MLP run on the
// local tokens; only attention communicates.
//
// Forward: N steps. At step s the rank holds the k/v block of src = (r - s) mod N (k and
// v packed in one buffer). It POSTS the exchange of that block (send to r+1, receive the
// next from r-1 into a second buffer, batch_p2p_async) BEFORE computing attention of its
// queries against the block, merging into fp32 (out, lse) with the kernel's accumulate
// mode, then waits and swaps (double buffering). With zigzag every step after the first
// costs the same everywhere: src < r -> all local q against the block's FIRST chunk;
// src > r -> the SECOND local chunk of q against the whole block (the rest is masked).
// Backward: k/v travel the ring again; the fp32 dk/dv accumulators of each block travel
// with it on a second ring (tag 2), and after N hops arrive back at their owner; dq
// accumulates locally. Backward uses the final out and lse.
// Other layouts: any TokenLayout may be asked for (stripe: token t on rank t mod N, or
// contiguous with causal); then every step computes the block whole and the kernel masks
// by global position (no half-block selection, unbalanced for contiguous + causal).
// WeightMode::zero3 (zero3.hpp): all weights sharded 1/N, gathered before forward and
// again before backward, gradients reduce-scattered (instead of the all-reduce).
// Needs L % (2N) == 0 (zigzag) or L % N == 0 (contiguous, stripe).
#include <vector>

#include "strategies/full_weights.hpp"
#include "strategies/ring_attention.hpp"
#include "strategies/strategy.hpp"

namespace ody::strategies {

class Ring final : public Strategy {
 public:
  // layout: by default layout_for(cfg) (zigzag when causal, contiguous otherwise).
  Ring(const BlockConfig& cfg, comm::Communicator& comm, WeightMode mode = WeightMode::replicated);
  Ring(const BlockConfig& cfg, comm::Communicator& comm, WeightMode mode, TokenLayout layout);
  std::string_view name() const override { return "ring"; }
  TokenLayout layout() const override { return layout_; }
  WeightMode weight_mode() const override { return mode_; }
  std::vector<MeshDim> mesh_dims() const override { return {{"ring", comm_->size()}}; }
  void set_weights(const layers::BlockWeights& full) override;
  void gather_grads(const layers::BlockGrads& full) override;
  Cost cost() const override { return cost(cfg_, comm_->size(), comm_->rank(), layout_, mode_); }
  // The same bytes for every layout (blocks of L/N tokens); layout only decides validity.
  static Cost cost(const BlockConfig& cfg, int n, int rank) {
    return cost(cfg, n, rank, layout_for(cfg));
  }
  static Cost cost(const BlockConfig& cfg, int n, int rank, TokenLayout layout,
                   WeightMode mode = WeightMode::replicated);
  static void check(const BlockConfig& cfg, int n) { check(cfg, n, layout_for(cfg)); }
  static void check(const BlockConfig& cfg, int n, TokenLayout layout);
  static TokenLayout layout_for(const BlockConfig& cfg) {
    return cfg.causal ? TokenLayout::zigzag : TokenLayout::contiguous;
  }

 private:
  void do_forward(Span3<float> y, Span3<const float> x) override;
  void do_backward(Span3<float> dx, Span3<const float> dy) override;
  TokenLayout layout_;
  WeightMode mode_;
  std::unique_ptr<FullWeights> weights_;
  layers::Array2 x_, u1_, h_, gate_, up_;  // [T, d] / [T, i]; backward overwrites gate_, up_
  layers::Array1 rstd1_, rstd2_;           // [T]
  std::vector<float> q_, kv_, o_, lse_;    // q, o [B, L/N, H, Dh]; kv: k then v [B, L/N, G, Dh]
  std::unique_ptr<RingAttention> ring_;
};

}  // namespace ody::strategies
