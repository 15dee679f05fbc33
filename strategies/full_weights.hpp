#pragma once
// The nine block weights of a strategy whose every rank computes with all of them (Ulysses,
// Ring, USP), by mode, in one holder: set_weights, the weights for a pass, the gradients,
// their reduction over the group and gather_grads.
//   replicated  every rank keeps the full weights and full gradients, packed in one flat
//               buffer; reduce() sums the gradients over the group in one in-place
//               all-reduce (what cost() charges).
//   zero3       Zero3Weights' shards (zero3.hpp): acquire() all-gathers the full weights
//               into one flat buffer for the pass, release() drops them; grads() are full
//               for one backward only, and reduce() reduce-scatters them to the shard.
// A pass is: acquire(), compute, release() (forward) or acquire(), grads(), compute, reduce()
// (backward; reduce() releases too). The walk_* functions are the peak model's steps of the
// same calls (MemoryWalk, strategy.hpp), in bytes.
#include <memory>
#include <vector>

#include "comm/communicator.hpp"
#include "layers/block.hpp"
#include "strategies/strategy.hpp"
#include "strategies/zero3.hpp"

namespace ody::strategies {

class FullWeights {
 public:
  // mode: replicated or zero3 (the caller has checked).
  FullWeights(const BlockConfig& cfg, comm::Communicator& comm, WeightMode mode);

  void set(const layers::BlockWeights& full);
  // The full weights for one pass (zero3: gathered now; collective).
  const layers::BlockWeights& acquire();
  void release();  // zero3: drops the gathered weights and any gradients
  // Full-shape gradients for this backward (zero3: zeroed, allocated now; replicated: the
  // kept buffer, which backward overwrites).
  layers::BlockGrads& grads();
  // Sums the gradients over the group (collective), then release().
  void reduce();
  void gather_grads(const layers::BlockGrads& full);  // collective under zero3

  // Traffic: the gradient reduction (replicated: an all-reduce of every weight; zero3: its
  // gathers and reduce-scatter).
  static void add_cost(Cost& cost, const BlockConfig& cfg, int n, int rank, WeightMode mode);
  // Peak model: the constructor (replicated: weights and gradients; zero3: the shards),
  // set(), acquire() (zero3: the gathered weights), release(), grads() (zero3: the full
  // gradients); reduce() adds nothing above them.
  static void walk_construct(MemoryWalk& m, const BlockConfig& cfg, int n, WeightMode mode);
  static void walk_set(MemoryWalk& m, const BlockConfig& cfg, int n, WeightMode mode);
  static void walk_acquire(MemoryWalk& m, const BlockConfig& cfg, int n, WeightMode mode);
  static void walk_release(MemoryWalk& m, const BlockConfig& cfg, int n, WeightMode mode);
  static void walk_grads(MemoryWalk& m, const BlockConfig& cfg, int n, WeightMode mode);

 private:
  BlockConfig cfg_;
  comm::Communicator* comm_;
  std::unique_ptr<Zero3Weights> zero3_;  // null: replicated
  layers::BlockWeights w_;               // zero3: views into w_flat_ during a pass
  std::vector<float> w_flat_;
  layers::BlockGrads g_;  // views into g_flat_
  std::vector<float> g_flat_;
};

}  // namespace ody::strategies
