#pragma once
// The block of the context-parallel strategies: ring (ring.hpp), allgather-kv
// (allgather_kv.hpp), token-ring (token_ring.hpp) and double-ring (double_ring.hpp). Every
// rank runs the whole block on its own L/N tokens (in the strategy's token layout) with
// the full weights (FullWeights: replicated, gradients all-reduced once, or ZeRO-3):
// norm, q/k/v projections with RoPE at global positions, the output projection and the
// MLP are local; only attention communicates, through the strategy's AttentionCore
// (attention_core.hpp), which is all a strategy of this family adds.
// Memory: q, k/v, o and lse are kept from forward for backward (fp32), the MLP's gate and
// up too (row-blocked MLP, layers/row_blocked_mlp.hpp); backward's attention reuses their
// memory after the MLP backward frees gate and up.
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "strategies/attention_core.hpp"
#include "strategies/full_weights.hpp"
#include "strategies/strategy.hpp"

namespace ody::strategies {

class ContextParallel : public Strategy {
 public:
  TokenLayout layout() const override { return layout_; }
  WeightMode weight_mode() const override { return mode_; }
  void set_weights(const layers::BlockWeights& full) override;
  void gather_grads(const layers::BlockGrads& full) override;
  std::uint64_t attention_pairs() const override;  // its own rows, all H heads

  // The peak model (Cost::peak_bytes) of this block around a core: `kept` bytes the
  // core's constructor keeps, and what its forward and backward allocate and free
  // (MemoryWalk steps), in the program order of context_parallel.cpp.
  struct CoreWalk {
    std::uint64_t kept = 0;
    std::function<void(MemoryWalk&)> forward, backward;
  };
  static std::uint64_t peak(const BlockConfig& c, int n, WeightMode mode, const CoreWalk& core);
  // The common core walk: forward allocates `fwd` bytes of buffers, backward `bwd`, each
  // around the kernel's scratch for `whole` (one call's largest shape).
  static CoreWalk buffers_walk(std::uint64_t kept, std::uint64_t fwd, std::uint64_t bwd,
                               bool bf16_wire, const kernels::AttentionShape& whole);
  // The default layout of the family: zigzag when causal, contiguous otherwise.
  static TokenLayout layout_for(const BlockConfig& cfg) {
    return cfg.causal ? TokenLayout::zigzag : TokenLayout::contiguous;
  }
  // The family's one shape rule: the layout of L over n ranks (who: "<name>: L").
  static void check_block(const BlockConfig& cfg, int n, TokenLayout layout, const char* who) {
    cfg.validate();
    check_layout(layout, cfg.L, n, who, cfg.doc_starts);
  }
  // The weights' traffic (all-reduce of the gradients, or the ZeRO-3 gathers and
  // reduce-scatter) added to a core's.
  static void add_weight_cost(Cost& cost, const BlockConfig& c, int n, int rank, WeightMode mode);
  // Every rank's token positions under `layout` (what a core masks by); docs: the packed
  // sequence's document starts (per_doc).
  static std::vector<std::vector<Pos>> all_positions(TokenLayout layout, std::int64_t L, int n,
                                                     std::span<const Pos> docs = {});
  // "replicated or zero3", else ody::Error "<who>: weight mode".
  static WeightMode check_mode(WeightMode mode, const char* who);

 protected:
  // who: "<name>: L" (the layout rule's message); `ordered`: the world ordered by logical
  // index (a placement; may be null), as Strategy's.
  ContextParallel(const BlockConfig& cfg, comm::Communicator& world,
                  std::unique_ptr<comm::Communicator> ordered, WeightMode mode, TokenLayout layout,
                  const char* who);
  void set_core(std::unique_ptr<AttentionCore> core) { core_ = std::move(core); }

 private:
  void do_forward(Span3<float> y, Span3<const float> x) override;
  void do_backward(Span3<float> dx, Span3<const float> dy) override;
  TokenLayout layout_;
  WeightMode mode_;
  std::unique_ptr<FullWeights> weights_;
  layers::Array2 x_, u1_, h_, gate_, up_;  // [T, d] / [T, i]; backward overwrites gate_, up_
  layers::Array1 rstd1_, rstd2_;           // [T]
  std::vector<float> q_, kv_, o_, lse_;    // q, o [B, L/N, H, Dh]; kv: k then v [B, L/N, G, Dh]
  std::unique_ptr<AttentionCore> core_;
};

}  // namespace ody::strategies
