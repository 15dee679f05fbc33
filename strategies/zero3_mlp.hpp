#pragma once
// The sequence-local MLP with ZeRO-3 sharded weights (docs/algorithms.md 3.4, 3.6), shared
// by Odysseus (odysseus.hpp) and Odysseus x Ring (odysseus_ring.hpp): over a group of N
// ranks, w_gate and w_up are kept as [i/N, d] row blocks and w_down as a [d/N, i] row
// block; mlp_norm is replicated (its gradient is this rank's partial sum; the owner
// all-reduces it with its other norm).
//
// Overlap: post_gathers() starts the three weight all-gathers (tags 1..3); the owner calls
// it BEFORE its attention half so that they travel while attention computes. forward()
// waits for them, runs the MLP on the local tokens and releases the full weights.
// backward() (after post_gathers() again) waits for w_down only before the first GEMM and
// reduce-scatters (sum) each full weight gradient as soon as it is computed (dW_down
// first, then dW_gate and dW_up, which the row blocks finish together); finish()
// waits for those, so the owner's attention backward runs while they travel.
// Memory: the MLP's [T, i] work runs in row blocks (layers/row_blocked_mlp.hpp), backward writes
// dgate/dup over the saved gate/up and releases everything forward saved once dead (so the
// owner's attention backward runs without it); the normed input is recomputed, not kept.
// Needs i % N == 0 and d % N == 0.
#include <vector>

#include "base/half.hpp"
#include "comm/communicator.hpp"
#include "layers/block.hpp"
#include "strategies/strategy.hpp"

namespace ody::strategies {

class Zero3Mlp {
 public:
  // tokens: the local token count T = B·L/N.
  Zero3Mlp(const BlockConfig& cfg, comm::Communicator& comm, std::int64_t tokens);
  // Throws ody::Error naming the rule (i % N, d % N) at `who`.
  static void check(const BlockConfig& cfg, int n, const char* who);
  void set_weights(const layers::BlockWeights& full);  // keeps this rank's shards
  void post_gathers();
  // The [T, d] buffer forward saves h in: an owner may compute h straight into it and
  // pass it to forward (which then copies nothing). Valid until backward returns.
  float* input();
  // y [T, d] = h + MLP(RMSNorm(h)). Waits for the gathers.
  void forward(float* y, const float* h);
  // dh [T, d] = dy + the MLP branch's input gradient; overwrites dmlp_norm_ (partial sum)
  // and posts the gradient reduce-scatters. Needs post_gathers() first and a forward
  // since the last backward (it consumes what forward saved). dh may alias dy.
  void backward(float* dh, const float* dy);
  void finish();  // waits for the gradient reduce-scatters
  // Writes full dw_gate, dw_up, dw_down (collective); not dmlp_norm.
  void gather_grads(const layers::BlockGrads& full);
  // Three all-gathers forward and backward, three reduce-scatters backward.
  static void add_cost(Cost& cost, const BlockConfig& cfg, int n);
  // The peak model's steps (MemoryWalk; n: group size, tokens: T), in program order:
  // construct (shards, gradient shards, norms, rstd), post_gathers (the full weights the
  // gathers land in; under bf16 their bf16 copies, widened at await, and the bf16 send
  // copies of the shards, kept until finish: `first` = the forward's call allocates them),
  // input (h), forward (gate/up saved, row-block scratch, full weights dropped once used),
  // backward (full gradients in flight, saved tensors released), finish.
  static void walk_construct(MemoryWalk& m, const BlockConfig& cfg, int n, std::int64_t tokens);
  static void walk_post_gathers(MemoryWalk& m, const BlockConfig& cfg, int n, bool first);
  static void walk_input(MemoryWalk& m, const BlockConfig& cfg, std::int64_t tokens);
  static void walk_forward(MemoryWalk& m, const BlockConfig& cfg, std::int64_t tokens);
  static void walk_backward(MemoryWalk& m, const BlockConfig& cfg, std::int64_t tokens);
  static void walk_finish(MemoryWalk& m, const BlockConfig& cfg, int n);

  layers::Array1 mlp_norm_, dmlp_norm_;  // [d]

 private:
  BlockConfig cfg_;
  comm::Communicator* comm_;
  std::int64_t T_;
  std::vector<float> w_gate_, w_up_, w_down_;              // shards [i/N, d] x2, [d/N, i]
  std::vector<float> dw_gate_, dw_up_, dw_down_;           // gradient shards, same shapes
  std::vector<float> gate_full_, up_full_, down_full_;     // gathered [i, d] x2, [d, i] (transient)
  std::vector<float> dgate_full_, dup_full_, ddown_full_;  // full gradients in flight
  comm::WorkPtr wg_, wu_, wd_, rg_, ru_, rd_;
  // Precision::bf16: the weights travel as bf16 (strategies/wire.hpp): send copies of the
  // shards and the gathered bf16 weights, widened into *_full_ once their gather is done.
  std::vector<bf16> send_g_, send_u_, send_d_, gate_h_, up_h_, down_h_;
  // Waits for a weight gather; under bf16 widens `wire` into `full` and frees it.
  void await(const comm::WorkPtr& w, std::vector<bf16>& wire, std::vector<float>& full);
  bool saved_ = false;
  layers::Array2 h_, gate_, up_;  // [T, d], [T, i] x2 (saved by forward, released by backward)
  layers::Array1 rstd_;           // [T]
};

}  // namespace ody::strategies
