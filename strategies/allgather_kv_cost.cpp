// The cost model of allgather_kv.cpp: exact traffic per op kind and the expected peak
// memory per rank (Cost, strategy.hpp), in allgather_kv.cpp's program order.
#include "strategies/allgather_kv.hpp"
#include "strategies/wire.hpp"

namespace ody::strategies {

using Z = std::int64_t;

Cost AllGatherKv::cost(const BlockConfig& c, int n, int rank, TokenLayout layout, WeightMode mode) {
  check(c, n, layout);
  namespace tm = comm::traffic_model;
  const Z Lb = c.L / n, Dh = c.head_dim(), E = 2 * c.B * Lb * Dh;  // one head's k/v block
  const std::size_t e = detail::wire_size(c);
  Cost cost;
  for (Z j = 0; j < c.G; ++j) {
    add_op(cost.forward, comm::OpKind::allgather, tm::all_gather(E, e, n));
    add_op(cost.backward, comm::OpKind::allgather, tm::all_gather(E, e, n));
    add_op(cost.backward, comm::OpKind::reducescatter, tm::reduce_scatter(E, 4, n));
  }
  // The core's buffers, per live head (two, or G if fewer): send [E] and gathered [N·E]
  // (wire type), in backward also the fp32 accumulator [N·E] and share [E]; the bf16 copy
  // of q.
  const kernels::AttentionShape whole{c.B, Lb, Lb, c.H / c.G, 1, Dh};
  const bool half = detail::bf16_wire(c);
  const std::uint64_t heads = std::min<Z>(c.G, 2), per_head = std::uint64_t(E + n * E);
  const std::uint64_t fwd =
      heads * per_head * e + (half ? std::uint64_t(c.B * Lb * c.H * Dh) * e : 0);
  const std::uint64_t bwd = fwd + heads * per_head * sizeof(float);
  cost.peak_bytes =
      peak(c, n, mode, buffers_walk(std::uint64_t(n * Lb) * sizeof(Pos), fwd, bwd, half, whole));
  add_weight_cost(cost, c, n, rank, mode);
  return cost;
}

}  // namespace ody::strategies
