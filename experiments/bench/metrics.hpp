#pragma once
// What ody-bench measures besides time: model FLOPs of the block, the worst relative
// error against the single-rank block, and the process's resident-memory high-water mark.
#include <cstddef>
#include <cstdint>

#include "layers/block.hpp"
#include "strategies/strategy.hpp"

namespace ody::experiments::bench {

// Model FLOPs of one block (algorithms.md section 1): GEMMs 2·T·(fan_in·fan_out) summed
// over the 7 projections, attention 4·B·H·L²·Dh (half when causal: the convention of
// counting the visible half). Backward: twice the GEMMs, 2.5x the attention (recompute of
// the scores plus four products).
struct Flops {
  double fwd = 0, bwd = 0;
};
Flops block_flops(const layers::BlockConfig& c);

// max |got - ref| / max |ref| (inf when got has a NaN).
double rel_err(const float* got, const float* ref, std::size_t n);

// Peak memory: the resident high-water mark (VmHWM) is reset (/proc/self/clear_refs) at
// the start of a region; peak_bytes_since() is VmHWM minus the resident size at that
// start, i.e. what the region added: its weights, activations, workspaces, buffers.
// start() trims the heap (malloc_trim) so that pages an earlier region freed are not
// silently reused. Run one strategy per process for the cleanest figures.
// Expected counterparts of PeakMemory's figures, for the regions ody-bench measures:
//   expected_peak_bytes        a strategy: cost.peak_bytes (what the strategy allocates,
//                              strategies/README.md) + the four [B, L/N, d] fp32 buffers
//                              the tool gives it (x, dy shards; y, dx);
//   single_rank_expected_peak_bytes  the single-rank block: Block::peak_bytes + its
//                              gradients (parameter_bytes) + y and dx [B, L, d] (the
//                              weights and x, dy are allocated before the region).
double expected_peak_bytes(const strategies::Cost& cost, const layers::BlockConfig& cfg,
                           int world_size);
double single_rank_expected_peak_bytes(const layers::BlockConfig& cfg);

class PeakMemory {
 public:
  void start();
  double peak_bytes_since() const;

 private:
  std::int64_t rss_start_kib_ = 0;
};

}  // namespace ody::experiments::bench
