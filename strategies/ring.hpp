#pragma once
// Ring attention (docs/algorithms.md 3.3): the context-parallel block (context_parallel.hpp)
// around RingAttention (ring_attention.hpp), the ring core shared with the hybrids.
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
#include "strategies/context_parallel.hpp"
#include "strategies/ring_attention.hpp"

namespace ody::strategies {

class Ring final : public ContextParallel {
 public:
  // layout: by default layout_for(cfg) (zigzag when causal, contiguous otherwise).
  Ring(const BlockConfig& cfg, comm::Communicator& comm, WeightMode mode = WeightMode::replicated);
  Ring(const BlockConfig& cfg, comm::Communicator& comm, WeightMode mode, TokenLayout layout);
  std::string_view name() const override { return "ring"; }
  std::vector<MeshDim> mesh_dims() const override { return {{"ring", comm_->size()}}; }
  Cost cost() const override {
    return cost(cfg_, comm_->size(), comm_->rank(), layout(), weight_mode());
  }
  // The same bytes for every layout (blocks of L/N tokens); layout only decides validity.
  static Cost cost(const BlockConfig& cfg, int n, int rank) {
    return cost(cfg, n, rank, layout_for(cfg));
  }
  static Cost cost(const BlockConfig& cfg, int n, int rank, TokenLayout layout,
                   WeightMode mode = WeightMode::replicated);
  static void check(const BlockConfig& cfg, int n) { check(cfg, n, layout_for(cfg)); }
  static void check(const BlockConfig& cfg, int n, TokenLayout layout);
};

}  // namespace ody::strategies
