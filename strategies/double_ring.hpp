#pragma once
// Double ring (docs/algorithms.md 6.2; LoongTrain): the context-parallel block
// (context_parallel.hpp) with ring attention's arithmetic on a schedule of two rings. The
// R ring ranks (logical index m = p + w·j) are cut into R/w windows of w consecutive ranks,
// a Mesh {{"inner", w}, {"outer", R/w}}: the placement puts a window on one node (inner
// first), and each dimension may run on a backend of its own.
// Layout: zigzag when causal (2R chunks over the ring ranks), contiguous otherwise; any.
//
// Forward: R/w rounds of w steps. At the start of round k the rank holds the k/v block of
// ring rank (j-k)·w + p (its own at k = 0); it POSTS that block to the same position of
// the next window (outer ring, across nodes) and receives the next round's from the
// previous window, overlapped with the round's w steps, in which the window's blocks
// circulate over the inner ring (w-1 hops, the next one posted before each step's compute).
// With rails every rank of a node sends across at once, once per w steps, with w steps of
// compute to hide behind; a plain ring uses the two ranks at each node boundary every step.
// Backward: k/v travel the same way; each block's fp32 dk/dv accumulator follows its block
// round the window (w-1 inner hops), and at the round's last step the rank holding a block
// adds what earlier windows accumulated (received over the outer ring during the round) and
// posts the sum to the same position of the next window, where that block is at its last
// step next round; after the last round it goes straight to the block's owner (one hop over
// the ring's world). Traffic: the ring's bytes and hop counts (R-1 k/v hops; R accumulator
// hops), split into inner, outer and (the last accumulator hop) world operations.
// w = R is the plain ring on one window; w = 1 the plain ring over the outer dimension.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "strategies/context_parallel.hpp"
#include "strategies/mesh.hpp"

namespace ody::strategies {

class DoubleRing final : public ContextParallel {
 public:
  // window: w, the inner ring's size (a divisor of N); placement, node_of_rank, backend_of
  // as for Usp (usp.hpp).
  DoubleRing(const BlockConfig& cfg, comm::Communicator& world, int window,
             WeightMode mode = WeightMode::replicated, std::optional<TokenLayout> layout = {},
             const std::vector<int>& placement = {}, const std::vector<int>& node_of_rank = {},
             const std::map<std::string, std::string>& backend_of = {});
  ~DoubleRing() override;
  std::string_view name() const override { return "double-ring"; }
  std::vector<MeshDim> mesh_dims() const override { return mesh_->dims(); }
  Cost cost() const override {
    return cost(cfg_, comm_->size(), comm_->rank(), window_, layout(), weight_mode());
  }
  // rank: the logical mesh index.
  static Cost cost(const BlockConfig& cfg, int n, int rank, int window, TokenLayout layout,
                   WeightMode mode = WeightMode::replicated);
  static void check(const BlockConfig& cfg, int n, int window, TokenLayout layout);

 private:
  int window_;
  std::unique_ptr<Mesh> mesh_;
};

}  // namespace ody::strategies
