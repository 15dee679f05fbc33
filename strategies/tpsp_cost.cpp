// The cost model of tpsp.cpp: exact traffic per op kind and the expected peak memory per
// rank, walked allocation by allocation in tpsp.cpp's program order (Cost, strategy.hpp).
#include "strategies/tpsp.hpp"

#include "strategies/seq_exchange.hpp"

namespace ody::strategies {

using namespace layers;
using Z = std::int64_t;

namespace {
// Expected peak memory per rank (Cost::peak_bytes, strategies/README.md): the constructor,
// set_weights, the first forward and a backward above, allocation by allocation.
std::uint64_t tpsp_peak(const BlockConfig& c, int n) {
  using F = MemoryWalk;
  MemoryWalk m;
  const Z T = c.B * (c.L / n), TL = c.B * c.L, d = c.d, is = c.ffn / n;
  const bool bf16_wire = detail::bf16_wire(c), scratch = c.B > 1;
  const std::uint64_t gather_wire = bf16_wire ? std::uint64_t(T * d + T * d * n) * sizeof(bf16) : 0;
  // Constructor: positions, the attention half, norms, MLP gradient shards, h_, u_full_,
  // gate_, up_, rstd_; set_weights: the attention shards, the MLP shards.
  m.alloc(c.L / n * sizeof(Pos));
  TpAttention::walk_construct(m, c, n);
  m.alloc(F::floats(2 * d + 3 * is * d + T * d + TL * d + 2 * TL * is + T));
  TpAttention::walk_set_weights(m, c, n);
  m.alloc(F::floats(3 * is * d));
  // Forward.
  TpAttention::walk_forward(m, c, n);
  m.alloc(F::floats(T * d));  // u
  m.transient(gather_wire);
  if (scratch) m.alloc(F::floats(TL * d));       // scratch_ (B > 1), kept
  m.alloc(F::floats(TL * d + TL * is + T * d));  // partial, act, local
  m.release(F::floats(T * d + TL * d + TL * is + T * d));
  // Backward.
  m.alloc(F::floats(TL * d));  // dy_full
  m.transient(gather_wire);
  m.alloc(F::floats(TL * d + 2 * TL * is + T * d));  // du_full, s1, s2, du
  m.alloc(F::floats(T * d));                         // dh
  TpAttention::walk_backward(m, c, n);
  m.transient(F::floats(2 * d));  // norms
  return m.peak();
}
}  // namespace

Cost TpSp::cost(const BlockConfig& c, int n, int rank) {
  check(c, n);
  namespace tm = comm::traffic_model;
  Cost cost;
  TpAttention::add_cost(cost, c, n);
  const Z blk = c.B * (c.L / n) * c.d;
  const std::size_t e = detail::wire_size(c);  // all-gathers of activations; partial sums stay fp32
  for (auto* s : {&cost.forward, &cost.backward}) {
    add_op(*s, comm::OpKind::allgather, tm::all_gather(blk, e, n));
    add_op(*s, comm::OpKind::reducescatter, tm::reduce_scatter(blk, 4, n));
  }
  add_op(cost.backward, comm::OpKind::allreduce, tm::all_reduce(2 * c.d, 4, n, rank));
  cost.peak_bytes = tpsp_peak(c, n);
  return cost;
}

}  // namespace ody::strategies
