// The cost model of ring.cpp: exact traffic per op kind and the expected peak memory per
// rank (Cost, strategy.hpp): RingAttention's over the context-parallel block's.
#include "strategies/ring.hpp"
#include "strategies/wire.hpp"

namespace ody::strategies {

Cost Ring::cost(const BlockConfig& c, int n, int rank, TokenLayout layout, WeightMode mode) {
  check(c, n, layout);
  Cost cost;
  const RingAttention::Shape rs{c.B, c.L / n, c.H, c.G, c.head_dim(), detail::bf16_wire(c)};
  RingAttention::add_cost(cost, c.B, c.L / n, c.G, c.head_dim(), n, detail::wire_size(c));
  cost.peak_bytes = peak(c, n, mode,
                         {RingAttention::block_pos_bytes(rs, n),
                          [&](MemoryWalk& m) { RingAttention::walk_forward(m, rs); },
                          [&](MemoryWalk& m) { RingAttention::walk_backward(m, rs); }});
  add_weight_cost(cost, c, n, rank, mode);
  return cost;
}

}  // namespace ody::strategies
