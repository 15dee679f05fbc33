// The cost model of token_ring.cpp: exact traffic per op kind and the expected peak memory
// per rank (Cost, strategy.hpp), in token_ring.cpp's program order.
#include "strategies/token_ring.hpp"
#include "strategies/wire.hpp"

namespace ody::strategies {

using Z = std::int64_t;

Cost TokenRing::cost(const BlockConfig& c, int n, int rank, TokenLayout layout, WeightMode mode) {
  check(c, n, layout);
  const Z Lb = c.L / n, nq = c.B * Lb * c.H * c.head_dim(), nl = c.B * c.H * Lb,
          nkv = c.B * Lb * c.G * c.head_dim();
  const std::uint64_t e = detail::wire_size(c), q = nq * e, f = sizeof(float);
  Cost cost;
  auto both = [](comm::TrafficSnapshot& t, std::uint64_t bytes) {  // one send and one receive
    add_op(t, comm::OpKind::send, {bytes, 0});
    add_op(t, comm::OpKind::recv, {0, bytes});
  };
  for (int s = 1; s < n; ++s) {
    both(cost.forward, q);                   // queries out
    both(cost.forward, (nq + nl) * f);       // partials back
    both(cost.backward, q);                  // queries out
    both(cost.backward, (2 * nq + nl) * f);  // dout, out, lse out
    both(cost.backward, nq * f);             // dq partials back
  }
  // The core's buffers: the bf16 copies of q and k/v; for N > 1 forward's two received
  // queries and four partials, backward's two received queries, the rank's own q-side
  // tensors and two received, two dq partials out and two in.
  const bool half = detail::bf16_wire(c);
  const std::uint64_t copies = half ? (nq + 2 * nkv) * e : 0, many = n > 1 ? 1 : 0;
  const std::uint64_t fwd = copies + many * (2 * q + 4 * (nq + nl) * f);
  const std::uint64_t bwd = copies + many * (2 * q + 3 * (2 * nq + nl) * f + 4 * nq * f);
  const kernels::AttentionShape whole{c.B, Lb, Lb, c.H, c.G, c.head_dim()};
  cost.peak_bytes =
      peak(c, n, mode, buffers_walk(std::uint64_t(n * Lb) * sizeof(Pos), fwd, bwd, half, whole));
  add_weight_cost(cost, c, n, rank, mode);
  return cost;
}

}  // namespace ody::strategies
