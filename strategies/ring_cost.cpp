// The cost model of ring.cpp: exact traffic per op kind and the expected peak memory per
// rank, walked allocation by allocation in ring.cpp's program order (Cost, strategy.hpp).
#include "strategies/ring.hpp"

#include "layers/row_blocked_mlp.hpp"
#include "strategies/wire.hpp"

namespace ody::strategies {

using namespace layers;
using Z = std::int64_t;

namespace {
// Expected peak memory per rank (Cost::peak_bytes, strategies/README.md): the constructor,
// set_weights, the first forward and a backward above, allocation by allocation.
std::uint64_t ring_peak(const BlockConfig& c, int n, WeightMode mode) {
  using F = MemoryWalk;
  MemoryWalk m;
  const Z Ll = c.L / n, T = c.B * Ll, d = c.d, Dh = c.head_dim(), H = c.H, G = c.G, i = c.ffn;
  const Z nq = T * H * Dh, nkv = T * G * Dh;
  const RingAttention::Shape rs{c.B, Ll, H, G, Dh, detail::bf16_wire(c)};
  // Constructor: positions, the weights (FullWeights: full, or ZeRO-3 shards), x_, u1_, h_, rstd1_,
  // rstd2_, blocks' positions.
  m.alloc(Ll * sizeof(Pos));
  FullWeights::walk_construct(m, c, n, mode);
  m.alloc(F::floats(3 * T * d + 2 * T));
  m.alloc(RingAttention::block_pos_bytes(rs, n));
  FullWeights::walk_set(m, c, n, mode);
  // Forward.
  FullWeights::walk_acquire(m, c, n, mode);
  m.alloc(F::floats(2 * nq + 2 * nkv + H * T));  // q_, kv_, o_, lse_ (kept from here on)
  RingAttention::walk_forward(m, rs);
  m.alloc(F::floats(2 * T * i));  // gate_, up_
  m.transient(layers::mlp_up_forward_scratch_bytes(T, d, i));
  m.transient(layers::mlp_down_scratch_bytes(T, i));
  FullWeights::walk_release(m, c, n, mode);
  // Backward.
  FullWeights::walk_acquire(m, c, n, mode);
  FullWeights::walk_grads(m, c, n, mode);
  m.transient(layers::mlp_down_scratch_bytes(T, i));
  m.transient(layers::mlp_up_backward_scratch_bytes(T, d, i));
  m.release(F::floats(2 * T * i));               // gate_, up_
  m.alloc(F::floats(T * d + 2 * nq + 2 * nkv));  // du, dO, dq, acc
  RingAttention::walk_backward(m, rs);
  return m.peak();  // (reduce() is in place or from the packed gradients)
}
}  // namespace

Cost Ring::cost(const BlockConfig& c, int n, int rank, TokenLayout layout, WeightMode mode) {
  check(c, n, layout);
  namespace tm = comm::traffic_model;
  Cost cost;
  RingAttention::add_cost(cost, c.B, c.L / n, c.G, c.head_dim(), n, detail::wire_size(c));
  cost.peak_bytes = ring_peak(c, n, mode);
  FullWeights::add_cost(cost, c, n, rank, mode);
  return cost;
}

}  // namespace ody::strategies
