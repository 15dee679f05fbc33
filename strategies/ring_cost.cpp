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
  const std::uint64_t wfull = Block::parameter_bytes(c);
  const bool z3 = mode == WeightMode::zero3;
  const RingAttention::Shape rs{c.B, Ll, H, G, Dh, detail::bf16_wire(c)};
  // Constructor: positions, w_ and g_ (full), ZeRO-3 shards, x_, u1_, h_, rstd1_, rstd2_, blocks'
  // positions.
  m.alloc(Ll * sizeof(Pos));
  m.alloc(2 * wfull);
  if (z3) Zero3Weights::walk_construct(m, c, n);
  m.alloc(F::floats(3 * T * d + 2 * T));
  m.alloc(RingAttention::block_pos_bytes(rs, n));
  if (z3) {  // set_weights: load the shard, drop the full w_
    Zero3Weights::walk_load(m, c, n);
    m.release(wfull);
  }
  // Forward.
  if (z3) Zero3Weights::walk_gather(m, c, n, false);
  m.alloc(F::floats(2 * nq + 2 * nkv + H * T));  // q_, kv_, o_, lse_ (kept from here on)
  RingAttention::walk_forward(m, rs);
  m.alloc(F::floats(2 * T * i));  // gate_, up_
  m.transient(layers::mlp_up_forward_scratch_bytes(T, d, i));
  m.transient(layers::mlp_down_scratch_bytes(T, i));
  if (z3) m.release(wfull);
  // Backward.
  if (z3) Zero3Weights::walk_gather(m, c, n, false);
  m.transient(layers::mlp_down_scratch_bytes(T, i));
  m.transient(layers::mlp_up_backward_scratch_bytes(T, d, i));
  m.release(F::floats(2 * T * i));               // gate_, up_
  m.alloc(F::floats(T * d + 2 * nq + 2 * nkv));  // du, dO, dq, acc
  RingAttention::walk_backward(m, rs);
  if (z3)
    Zero3Weights::walk_reduce(m, c, n);
  else
    m.transient(wfull);  // all_reduce_replicated_grads packs the nine gradients
  return m.peak();
}
}  // namespace

Cost Ring::cost(const BlockConfig& c, int n, int rank, TokenLayout layout, WeightMode mode) {
  check(c, n, layout);
  namespace tm = comm::traffic_model;
  Cost cost;
  RingAttention::add_cost(cost, c.B, c.L / n, c.G, c.head_dim(), n, detail::wire_size(c));
  cost.peak_bytes = ring_peak(c, n, mode);
  if (mode == WeightMode::zero3) {
    Zero3Weights::add_cost(cost, c, n);
    return cost;
  }
  const Z weights = 2 * c.d + (2 * c.H + 2 * c.G) * c.head_dim() * c.d + 3 * c.ffn * c.d;
  add_op(cost.backward, comm::OpKind::allreduce, tm::all_reduce(weights, 4, n, rank));
  return cost;
}

}  // namespace ody::strategies
