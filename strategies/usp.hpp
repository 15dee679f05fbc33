#pragma once
// USP = Ulysses x Ring (docs/algorithms.md 3.5) over a U x R mesh of N = U·R ranks:
// strategies::Mesh {{"ulysses", U}, {"ring", R}} (inner first: the ulysses groups are U
// consecutive logical indices; put them inside a node, the ring across).
//
// Forward: norm and q/k/v projections on the local L/N tokens (RoPE with global
// positions); all-to-all q, k, v inside the ulysses group from sequence-sharded
// [B, L/N, h, Dh] to head-sharded [B, U·L/N, h/U, Dh] (the group's block, rows in the
// order of ring_attention.hpp's group_rows); ring attention (RingAttention: k/v blocks of
// the local heads passed round the R groups, next exchange posted before the current
// block's compute, fp32 (out, lse) merge); all-to-all of the output back; wo and the MLP
// on local tokens. Backward: dout all-to-all, the ring backward (k/v ring again, fp32
// dk/dv on a second ring back to their owner), dq/dk/dv all-to-alls back, then the weight
// gradients: one all-reduce over all N ranks (replicated) or ZeRO-3 over all N ranks.
//
// Layout: over the world's N logical indices: zigzag when causal (the world zigzag with
// ring as the outer dimension gives each ulysses group exactly ring chunks rho and
// 2R-1-rho, so the ring is load balanced as in Ring), contiguous otherwise; any
// TokenLayout may be asked for (non-zigzag layouts compute whole blocks, the kernel masks
// by global position).
// GQA: kv heads as Ulysses within the ulysses dimension (G % U == 0, or U % G == 0 and
// each rank gets the one kv head its query heads read, the replicas' gradients summed).
// Needs L % (2N) == 0 (zigzag) or L % N == 0, H % U == 0, G % U == 0 or U % G == 0.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "strategies/full_weights.hpp"
#include "strategies/mesh.hpp"
#include "strategies/ring_attention.hpp"
#include "strategies/strategy.hpp"
#include "strategies/wire.hpp"

namespace ody::strategies {

class Usp final : public Strategy {
 public:
  // world: N ranks; ulysses: U (N % U == 0). placement: logical index -> world rank
  // (empty: identity); node_of_rank: world rank -> node (for Mesh; empty: none);
  // backend_of: mesh dimension -> backend (dims_on_backends, mesh.hpp; empty: splits of
  // world).
  Usp(const BlockConfig& cfg, comm::Communicator& world, int ulysses,
      WeightMode mode = WeightMode::replicated, std::optional<TokenLayout> layout = {},
      const std::vector<int>& placement = {}, const std::vector<int>& node_of_rank = {},
      const std::map<std::string, std::string>& backend_of = {});
  std::string_view name() const override { return "usp"; }
  TokenLayout layout() const override { return layout_; }
  WeightMode weight_mode() const override { return mode_; }
  std::vector<MeshDim> mesh_dims() const override { return mesh_->dims(); }
  void set_weights(const layers::BlockWeights& full) override;
  void gather_grads(const layers::BlockGrads& full) override;
  std::uint64_t attention_pairs() const override;  // the group block's rows, H/U heads
  Cost cost() const override {
    return cost(cfg_, comm_->size(), comm_->rank(), U_, layout_, mode_);
  }
  // rank: the logical mesh index.
  static Cost cost(const BlockConfig& cfg, int n, int rank, int ulysses, TokenLayout layout,
                   WeightMode mode = WeightMode::replicated);
  // Throws ody::Error naming the rule, the values and the nearest valid setting.
  static void check(const BlockConfig& cfg, int n, int ulysses, TokenLayout layout);
  static TokenLayout layout_for(const BlockConfig& cfg) {
    return cfg.causal ? TokenLayout::zigzag : TokenLayout::contiguous;
  }

 private:
  void do_forward(Span3<float> y, Span3<const float> x) override;
  void do_backward(Span3<float> dx, Span3<const float> dy) override;
  int U_;
  TokenLayout layout_;
  WeightMode mode_;
  std::unique_ptr<Mesh> mesh_;
  comm::Communicator* uly_;  // the ulysses group (rank = s)
  std::unique_ptr<RingAttention> ring_;
  std::vector<std::int64_t> map_;  // group_rows().map
  std::unique_ptr<FullWeights> weights_;
  layers::Array2 x_, u1_, h_, u2_, gate_, up_, o_;  // [T, d] / [T, i] / [T, H·Dh]
  layers::Array1 rstd1_, rstd2_;
  std::vector<float> qh_, kvh_, oh_, lse_;  // group block [B, U·L/N, h/U, Dh]; kvh: k then v
  detail::WirePair x1_, x2_, x3_;           // all-to-all buffers (send, recv) in the wire precision
};

}  // namespace ody::strategies
