#pragma once
// ZeRO-3 for all nine block weights (docs/algorithms.md 3.6), FullWeights' zero3 mode
// (Ulysses, Ring, USP): the weights are packed in one flat fp32 vector in
// BlockWeights::tensors() order, zero-padded to a multiple of N (Wp elements), and rank r
// keeps elements [r·Wp/N, (r+1)·Wp/N). Forward all-gathers them (one all-gather of Wp/N
// per rank) and drops the full copy after use; backward gathers again and reduce-scatters
// (sum) the packed gradients to the same shards. gather_grads() assembles full gradients.
// Under Precision::bf16 the weight all-gathers move bf16 (strategies/wire.hpp); gradients
// stay fp32.
#include <vector>

#include "comm/communicator.hpp"
#include "layers/block.hpp"
#include "strategies/strategy.hpp"

namespace ody::strategies {

class Zero3Weights {
 public:
  Zero3Weights(const BlockConfig& cfg, comm::Communicator& comm);
  static std::int64_t padded_count(const BlockConfig& cfg, int n);  // Wp
  void load(const layers::BlockWeights& full);                      // keeps this rank's shard
  void gather_grads(const layers::BlockGrads& full);                // collective
  // One all-gather of Wp/N elements (forward and backward), one reduce-scatter (backward).
  static void add_cost(Cost& cost, const BlockConfig& cfg, int n);
  // The peak model's steps (MemoryWalk, strategy.hpp), in bytes:
  //   walk_construct  the weight and gradient shards (2·Wp/N floats), kept;
  //   walk_load       load(): the packed full weights (Wp), freed on return;
  //   walk_gather     gather(flat, w) leaves flat (Wp floats, gathered_bytes()) live, the
  //                   caller frees it; bf16 adds the wire copies (Wp/N + Wp bf16).
  static void walk_construct(MemoryWalk& m, const BlockConfig& cfg, int n);
  static void walk_load(MemoryWalk& m, const BlockConfig& cfg, int n);
  static void walk_gather(MemoryWalk& m, const BlockConfig& cfg, int n);
  static std::uint64_t gathered_bytes(const BlockConfig& cfg, int n);

  // Gathers straight into `flat` (resized to Wp) and points w's tensors into it (release:
  // clear flat and w); reduce-scatters straight from gradients packed in tensors() order in
  // `packed` (Wp elements, padding zero). Collective.
  void gather(std::vector<float>& flat, layers::BlockWeights& w);
  void reduce_grads(const std::vector<float>& packed);
  // The nine weights' element count (unpadded) and views of full-shape tensors packed in
  // tensors() order at flat (unmanaged: flat must outlive them).
  static std::int64_t weight_count(const BlockConfig& cfg);
  static void view_packed(layers::BlockWeights& w, const BlockConfig& cfg, float* flat);
  static void view_packed(layers::BlockGrads& g, const BlockConfig& cfg, float* flat);

 private:
  BlockConfig cfg_;
  comm::Communicator* comm_;
  std::vector<float> shard_, grad_shard_;  // [Wp/N]
};

}  // namespace ody::strategies
