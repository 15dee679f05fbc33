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
// Memory: what forward saves (gathered input, head-sharded q/k/v/o) is allocated by each
// forward and released by backward as soon as it is dead.
//
// With a ring (Odysseus x Ring, odysseus_ring.hpp): the tp group of T ranks is one block
// of a ring of R groups (N = T·R, tokens laid out over the N logical indices, group rho =
// indices s + T·rho). The gathered sequence is then the group's T·L/N tokens, reordered
// into ring_attention.hpp's group_rows (so that zigzag is load balanced), RoPE uses their
// global positions, and attention is RingAttention over the ring of the local heads' k/v
// blocks; the partial wo output is put back in member order before the reduce-scatter.
#include <memory>
#include <vector>

#include "comm/communicator.hpp"
#include "layers/block.hpp"
#include "strategies/ring_attention.hpp"
#include "strategies/strategy.hpp"

namespace ody::strategies {

class TpAttention {
 public:
  // Its attention work: the gathered rows' pairs (the group's block with a ring) x its
  // H/T query heads.
  std::uint64_t attention_pairs() const;
  // comm: the tp group. ring (optional): the ring of tp groups; layout: over all N ranks.
  TpAttention(const BlockConfig& cfg, comm::Communicator& comm, comm::Communicator* ring = nullptr,
              TokenLayout layout = TokenLayout::contiguous);
  // Throws ody::Error naming the rule: H % N == 0, G % N == 0 (and L % N == 0).
  static void check(const BlockConfig& cfg, int n, const char* who);
  void set_weights(const layers::BlockWeights& full);
  // h [T, d] = x + Attn(RMSNorm(x)) for the local T = B·L/N tokens.
  void forward(float* h, const float* x);
  // dx [T, d] += the attention branch's input gradient for dh [T, d]; overwrites the
  // weight gradient shards (dattn_norm: this rank's partial sum). dh may alias dx (it is
  // read first). Needs a forward since the last backward (it consumes what that saved).
  void backward(float* dx, const float* dh);
  // Adds the traffic of one forward / backward of this half (n: tp size; ring: R, whose
  // k/v ring is added when R > 1).
  static void add_cost(Cost& cost, const BlockConfig& cfg, int n, int ring = 1);
  // The same, the tp group's part (all-gathers, reduce-scatters) and the ring's apart.
  static void add_cost(Cost& tp, Cost& ring_part, const BlockConfig& cfg, int n, int ring);
  // The peak model's steps (MemoryWalk; n: tp size, ring: R, 0 = built without a ring
  // communicator; a ring of one rank still runs RingAttention): what the constructor keeps
  // (shards, gradient shards, x, rstd, positions), set_weights' shard replacements, and
  // what the first forward and a backward allocate and free, in program order. forward
  // leaves its saved tensors live (gathered input, q, k/v, o, lse) and backward frees them.
  static void walk_construct(MemoryWalk& m, const BlockConfig& cfg, int n, int ring = 0);
  static void walk_set_weights(MemoryWalk& m, const BlockConfig& cfg, int n);
  static void walk_forward(MemoryWalk& m, const BlockConfig& cfg, int n, int ring = 0);
  static void walk_backward(MemoryWalk& m, const BlockConfig& cfg, int n, int ring = 0);
  // Writes the full dwq, dwk, dwv, dwo of `full` (collective); not dattn_norm.
  void gather_grads(const layers::BlockGrads& full);

  layers::Array1 attn_norm_, dattn_norm_;  // [d] replicated / partial
  layers::Array2 wq_, wk_, wv_, wo_;       // [H/N·Dh, d], [G/N·Dh, d] x2, [d, H/N·Dh]
  layers::Array2 dwq_, dwk_, dwv_, dwo_;

 private:
  BlockConfig cfg_;
  comm::Communicator* comm_;
  std::int64_t hq_, hk_, Ll_, Lg_;     // Lg_ = the gathered length (L without a ring)
  std::vector<layers::Pos> pos_full_;  // positions of the gathered rows (0..L-1 without a ring)
  std::vector<std::int64_t> map_;      // group_rows().map; empty = member order
  std::unique_ptr<RingAttention> ring_;
  bool saved_ = false;
  layers::Array2 x_, u_full_;            // [T, d], [B·Lg, d]
  layers::Array1 rstd_;                  // [T]
  std::vector<float> q_, kv_, o_, lse_;  // [B, Lg, h/N, Dh] (kv_: k then v), lse [B, H/N, Lg]
  std::vector<float> scratch_;
};

}  // namespace ody::strategies
