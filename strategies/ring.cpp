#include "strategies/ring.hpp"

#include "strategies/wire.hpp"

namespace ody::strategies {

void Ring::check(const BlockConfig& cfg, int n, TokenLayout layout) {
  check_block(cfg, n, layout, "ring: L");
}

Ring::Ring(const BlockConfig& cfg, comm::Communicator& comm, WeightMode mode)
    : Ring(cfg, comm, mode, layout_for(cfg)) {}

Ring::Ring(const BlockConfig& cfg, comm::Communicator& comm, WeightMode mode, TokenLayout layout)
    : ContextParallel((check(cfg, comm.size(), layout), cfg), comm, nullptr,
                      check_mode(mode, "ring"), layout, "ring: L") {
  set_core(std::make_unique<RingAttention>(
      comm,
      RingAttention::Shape{cfg.B, local_len(), cfg.H, cfg.G, cfg.head_dim(),
                           detail::bf16_wire(cfg)},
      cfg.causal, all_positions(layout, cfg.L, comm.size(), cfg.doc_starts),
      layout == TokenLayout::zigzag, cfg.doc_starts));
}

}  // namespace ody::strategies
