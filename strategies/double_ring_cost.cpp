// The cost model of double_ring.cpp: exact traffic per op kind and the expected peak memory
// per rank (Cost, strategy.hpp), in double_ring.cpp's program order.
#include <algorithm>

#include "strategies/double_ring.hpp"
#include "strategies/ring_attention.hpp"
#include "strategies/wire.hpp"

namespace ody::strategies {

using Z = std::int64_t;

Cost DoubleRing::cost(const BlockConfig& c, int n, int rank, int window, TokenLayout layout,
                      WeightMode mode) {
  check(c, n, window, layout);
  const int w = window, nw = n / window;
  const Z Lb = c.L / n, nkv = c.B * Lb * c.G * c.head_dim();
  const std::uint64_t e = detail::wire_size(c), kv = 2 * nkv * e, acc = 2 * nkv * sizeof(float);
  Cost cost;
  auto hops = [](comm::TrafficSnapshot& t, int count, std::uint64_t bytes) {
    for (int h = 0; h < count; ++h) {
      add_op(t, comm::OpKind::send, {bytes, 0});
      add_op(t, comm::OpKind::recv, {0, bytes});
    }
  };
  // Inner and outer k/v hops, R-1 as the ring's; the accumulators' R: inner, outer, and the
  // last one home over the world.
  Cost inner, outer, world;
  for (auto* t : {&inner.forward, &inner.backward}) hops(*t, nw * (w - 1), kv);
  for (auto* t : {&outer.forward, &outer.backward}) hops(*t, nw - 1, kv);
  if (n > 1) {
    hops(inner.backward, nw * (w - 1), acc);
    hops(outer.backward, nw - 1, acc);
    hops(world.backward, 1, acc);
  }
  add_weight_cost(world, c, n, rank, mode);
  cost.add("inner", inner);
  cost.add("outer", outer);
  cost.add("world", world);
  // The core's buffers: the round's start block and the next round's, up to two inner ring
  // blocks (wire type), the bf16 copy of q; backward adds four fp32 accumulators.
  const bool half = detail::bf16_wire(c);
  const std::uint64_t fwd =
      (2 + std::min(w - 1, 2)) * kv + (half ? std::uint64_t(c.B * Lb * c.H * c.head_dim()) * e : 0);
  const std::uint64_t bwd = fwd + 4 * acc;
  const kernels::AttentionShape whole{c.B, Lb, Lb, c.H, c.G, c.head_dim()};
  cost.peak_bytes =
      peak(c, n, mode, buffers_walk(std::uint64_t(n * Lb) * sizeof(Pos), fwd, bwd, half, whole));
  return cost;
}

}  // namespace ody::strategies
