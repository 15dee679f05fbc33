#pragma once
// Odysseus x Ring (docs/algorithms.md 3.5; named in the seed as orthogonal, implemented by
// none of the public projects) over a T x R mesh of N = T·R ranks: strategies::Mesh
// {{"tp", T}, {"ring", R}} (inner first: the tp groups are T consecutive logical indices,
// put them inside a node; the ring goes across).
//
// Attention (TpAttention with a ring, tp_attention.hpp): all-gather of the normed input
// inside the tp group (the group's T·L/N tokens), local heads H/T and G/T (wq/wk/wv
// column parallel, head-sharded over tp, replicated over ring), ring attention of the
// local heads' k/v blocks across the R groups (RingAttention: next exchange posted before
// the current block's compute, fp32 (out, lse) merge; backward: k/v ring again and fp32
// dk/dv on a second ring), wo row parallel + reduce-scatter inside the tp group.
// MLP: sequence-local on the L/N tokens with ZeRO-3 weights over ALL N ranks (Zero3Mlp,
// zero3_mlp.hpp, as Odysseus: gathers prefetched during attention, gradient
// reduce-scatters overlapped with the attention backward).
// Gradients: the attention weight shards are all-reduced over the ring dimension (one
// packed all-reduce), the two norms over all N ranks (one all-reduce of 2·d).
// Layout: over the N logical indices, zigzag when causal (each tp group then holds ring
// chunks rho and 2R-1-rho: balanced ring), contiguous otherwise; any TokenLayout may be
// asked for. WeightMode::zero3_mlp only.
// Needs L % (2N) == 0 (zigzag) or L % N == 0, H % T == 0, G % T == 0, i % N == 0,
// d % N == 0.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "strategies/mesh.hpp"
#include "strategies/strategy.hpp"
#include "strategies/tp_attention.hpp"
#include "strategies/zero3_mlp.hpp"

namespace ody::strategies {

class OdysseusRing final : public Strategy {
 public:
  // world: N ranks; tp: T (N % T == 0). placement: logical index -> world rank (empty:
  // identity); node_of_rank: world rank -> node (for Mesh; empty: none); backend_of:
  // mesh dimension -> backend (dims_on_backends, mesh.hpp; empty: splits of world).
  OdysseusRing(const BlockConfig& cfg, comm::Communicator& world, int tp,
               WeightMode mode = WeightMode::zero3_mlp, std::optional<TokenLayout> layout = {},
               const std::vector<int>& placement = {}, const std::vector<int>& node_of_rank = {},
               const std::map<std::string, std::string>& backend_of = {});
  std::string_view name() const override { return "odysseus-ring"; }
  TokenLayout layout() const override { return layout_; }
  WeightMode weight_mode() const override { return WeightMode::zero3_mlp; }
  std::vector<MeshDim> mesh_dims() const override { return mesh_->dims(); }
  void set_weights(const layers::BlockWeights& full) override;
  void gather_grads(const layers::BlockGrads& full) override;
  std::uint64_t attention_pairs() const override { return attn_->attention_pairs(); }
  Cost cost() const override { return cost(cfg_, comm_->size(), comm_->rank(), T_, layout_); }
  // rank: the logical mesh index.
  static Cost cost(const BlockConfig& cfg, int n, int rank, int tp, TokenLayout layout);
  // Throws ody::Error naming the rule, the values and the nearest valid setting.
  static void check(const BlockConfig& cfg, int n, int tp, TokenLayout layout);
  static TokenLayout layout_for(const BlockConfig& cfg) {
    return cfg.causal ? TokenLayout::zigzag : TokenLayout::contiguous;
  }

 private:
  void do_forward(Span3<float> y, Span3<const float> x) override;
  void do_backward(Span3<float> dx, Span3<const float> dy) override;
  int T_;
  TokenLayout layout_;
  std::unique_ptr<Mesh> mesh_;
  comm::Communicator* ring_;
  std::unique_ptr<TpAttention> attn_;
  std::unique_ptr<Zero3Mlp> mlp_;
};

}  // namespace ody::strategies
