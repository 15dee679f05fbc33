#pragma once
// The attention half shared by TP-SP (tpsp.hpp) and Odysseus (odysseus.hpp), docs/
// algorithms.md 3.1: contiguous layout; all-gather the normed input [B, L/N, d] ->
// [B, L, d]; wq/wk/wv column parallel (rank r owns query heads [r·H/N, (r+1)·H/N) and kv
// heads [r·G/N, (r+1)·G/N)); attention over the whole sequence with the local heads; wo
// row parallel -> partial [B, L, d]; reduce-scatter along the sequence -> [B, L/N, d].
// Backward: all-gather dh, the local-head backward, reduce-scatter the input gradient.
//
// Memory/traffic choice: forward keeps the gathered normed input [B, L, d] for the weight
// gradients instead of gathering it again in backward (the public code re-gathers), so the
// half costs 1 AG + 1 RS forward and 1 AG + 1 RS backward, each of B·L/N·d floats.
// The attn_norm gradient is this rank's partial sum over its tokens; the owner all-reduces.
#include <vector>

#include "comm/communicator.hpp"
#include "layers/block.hpp"
#include "strategies/strategy.hpp"

namespace ody::strategies {

class TpAttention {
 public:
  TpAttention(const BlockConfig& cfg, comm::Communicator& comm);
  // Throws ody::Error naming the rule: H % N == 0, G % N == 0 (and L % N == 0).
  static void check(const BlockConfig& cfg, int n, const char* who);
  void set_weights(const layers::BlockWeights& full);
  // h [T, d] = x + Attn(RMSNorm(x)) for the local T = B·L/N tokens.
  void forward(float* h, const float* x);
  // dx [T, d] += the attention branch's input gradient for dh [T, d]; overwrites the
  // weight gradient shards (dattn_norm: this rank's partial sum).
  void backward(float* dx, const float* dh);
  // Adds the traffic of one forward / backward of this half.
  static void add_cost(Cost& cost, const BlockConfig& cfg, int n);
  // Writes the full dwq, dwk, dwv, dwo of `full` (collective); not dattn_norm.
  void gather_grads(const layers::BlockGrads& full);

  layers::Array1 attn_norm_, dattn_norm_;  // [d] replicated / partial
  layers::Array2 wq_, wk_, wv_, wo_;       // [H/N·Dh, d], [G/N·Dh, d] x2, [d, H/N·Dh]
  layers::Array2 dwq_, dwk_, dwv_, dwo_;

 private:
  BlockConfig cfg_;
  comm::Communicator* comm_;
  std::int64_t hq_, hk_, Ll_;
  std::vector<layers::Pos> pos_full_;  // 0..L-1
  layers::Array2 x_, u_full_;           // [T, d], [B·L, d]
  layers::Array1 rstd_;                 // [T]
  std::vector<float> q_, k_, v_, o_, lse_;  // [B, L, h/N, Dh], lse [B, H/N, L]
  std::vector<float> scratch_;
};

}  // namespace ody::strategies
