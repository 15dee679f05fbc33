// The cost model of odysseus_ring.cpp: exact traffic per op kind and the expected peak memory per
// rank, walked allocation by allocation in odysseus_ring.cpp's program order (Cost, strategy.hpp).
#include "strategies/odysseus_ring.hpp"

namespace ody::strategies {

using namespace layers;
using Z = std::int64_t;

namespace {
// Expected peak memory per rank (Cost::peak_bytes, strategies/README.md): the constructor,
// set_weights, the first forward and a backward above, allocation by allocation.
std::uint64_t odysseus_ring_peak(const BlockConfig& c, int n, int tp) {
  using F = MemoryWalk;
  MemoryWalk m;
  const int R = n / tp;
  const Z T = c.B * (c.L / n), Dh = c.head_dim();
  m.alloc(c.L / n * sizeof(Pos));
  TpAttention::walk_construct(m, c, tp, R);
  Zero3Mlp::walk_construct(m, c, n, T);
  TpAttention::walk_set_weights(m, c, tp);
  // Forward.
  Zero3Mlp::walk_post_gathers(m, c, n, true);
  m.alloc(F::floats(T * c.d));  // h
  TpAttention::walk_forward(m, c, tp, R);
  Zero3Mlp::walk_input(m, c, T);
  Zero3Mlp::walk_forward(m, c, T);
  m.release(F::floats(T * c.d));
  // Backward.
  Zero3Mlp::walk_post_gathers(m, c, n, false);
  m.alloc(F::floats(T * c.d));  // dh
  Zero3Mlp::walk_backward(m, c, T);
  TpAttention::walk_backward(m, c, tp, R);
  // The attention gradient shards packed by successive inserts (std::vector grows to
  // size + max(size, added) when full: the old and the new buffer coexist while copying).
  std::uint64_t size = 0, cap = 0;
  for (Z e :
       {c.H / tp * Dh * c.d, c.G / tp * Dh * c.d, c.G / tp * Dh * c.d, c.d * (c.H / tp) * Dh}) {
    if (size + e > cap) {
      const std::uint64_t grown = size + std::max<std::uint64_t>(size, e);
      m.alloc(F::floats(grown));
      m.release(F::floats(cap));
      cap = grown;
    }
    size += e;
  }
  m.transient(F::floats(2 * c.d));  // norms
  m.release(F::floats(cap));
  Zero3Mlp::walk_finish(m, c, n);
  return m.peak();
}
}  // namespace

Cost OdysseusRing::cost(const BlockConfig& c, int n, int rank, int T, TokenLayout layout) {
  check(c, n, T, layout);
  namespace tm = comm::traffic_model;
  const int R = n / T;
  Cost cost, tp, ring, world;
  TpAttention::add_cost(tp, ring, c, T, R);
  Zero3Mlp::add_cost(world, c, n);
  const Z attn_shards = (2 * c.H / T + 2 * c.G / T) * c.head_dim() * c.d;
  add_op(ring.backward, comm::OpKind::allreduce, tm::all_reduce(attn_shards, 4, R, rank / T));
  add_op(world.backward, comm::OpKind::allreduce, tm::all_reduce(2 * c.d, 4, n, rank));
  cost.add("tp", tp);
  cost.add("ring", ring);
  cost.add("world", world);
  cost.peak_bytes = odysseus_ring_peak(c, n, T);
  return cost;
}

}  // namespace ody::strategies
