#pragma once
// All-gather-KV context parallelism (docs/algorithms.md 6.1; Llama 3's CP, Megatron's
// all_gather mode): the context-parallel block (context_parallel.hpp) whose attention
// gathers the keys and values of the whole sequence instead of passing them round a ring.
// Layout: zigzag when causal (2N chunks, rank r holds chunks r and 2N-1-r: even causal
// work), contiguous otherwise; any layout may be asked for.
//
// Forward, pipelined per kv head (Llama 3's per-kv-group pipelining): for kv head j the
// rank packs its k and v rows of head j into one buffer [2, B, L/N, Dh] and all-gathers
// it (async) over the N ranks; the gather of head j+1 is posted before attention of the
// H/G query heads of head j runs against the gathered rows of every rank (the zigzag
// half-block selection of ring_attention.hpp's block_part per source rank), so only two
// heads of the full k/v are ever live, 2 · 2·B·L·Dh elements, not 2·B·L·G·Dh.
// Backward: k/v are gathered again the same way (not kept: the memory is the point), the
// dk/dv of the full sequence's rows of head j accumulate locally in fp32 and are
// reduce-scattered (sum, async, overlapped with head j+1) back to their owners; dq is local.
// Traffic per rank (elements of one rank's head block E = 2·B·(L/N)·Dh): forward G
// all-gathers of E (wire precision); backward G all-gathers of E + G fp32 reduce-scatters
// of E; plus the weights' (replicated: all-reduce of the gradients; zero3 as ring).
// No head divisibility rule: any H, G and N with L % (2N) == 0 (zigzag) or L % N == 0.
#include <memory>
#include <vector>

#include "comm/communicator.hpp"
#include "strategies/context_parallel.hpp"

namespace ody::strategies {

class AllGatherKv final : public ContextParallel {
 public:
  AllGatherKv(const BlockConfig& cfg, comm::Communicator& comm,
              WeightMode mode = WeightMode::replicated);
  AllGatherKv(const BlockConfig& cfg, comm::Communicator& comm, WeightMode mode,
              TokenLayout layout);
  std::string_view name() const override { return "allgather-kv"; }
  std::vector<MeshDim> mesh_dims() const override { return {{"cp", comm_->size()}}; }
  Cost cost() const override {
    return cost(cfg_, comm_->size(), comm_->rank(), layout(), weight_mode());
  }
  static Cost cost(const BlockConfig& cfg, int n, int rank, TokenLayout layout,
                   WeightMode mode = WeightMode::replicated);
  static void check(const BlockConfig& cfg, int n, TokenLayout layout);
};

}  // namespace ody::strategies
