// The cost model of usp.cpp: exact traffic per op kind and the expected peak memory per
// rank, walked allocation by allocation in usp.cpp's program order (Cost, strategy.hpp).
#include "strategies/usp.hpp"

#include "strategies/layout.hpp"

namespace ody::strategies {

using namespace layers;
using Z = std::int64_t;

namespace {
// Expected peak memory per rank (Cost::peak_bytes, strategies/README.md): the constructor,
// set_weights, the first forward and a backward above, allocation by allocation.
std::uint64_t usp_peak(const BlockConfig& c, int n, int U, WeightMode mode) {
  using F = MemoryWalk;
  MemoryWalk m;
  const int R = n / U;
  const Z Ll = c.L / n, T = c.B * Ll, d = c.d, Dh = c.head_dim(), H = c.H, G = c.G, i = c.ffn;
  const Z Lb = U * Ll, hq = H / U, hk = heads_per_rank(G, U);
  const Z nq = T * H * Dh, nkv = T * G * Dh;                        // local q and k
  const Z nqh = c.B * Lb * hq * Dh, nkvh = 2 * c.B * Lb * hk * Dh;  // group block q and k+v
  const Z bkv = c.B * Ll * hk * Dh * U;                             // a k (v) exchange
  const RingAttention::Shape rs{c.B, Lb, hq, hk, Dh, detail::bf16_wire(c)};
  // Constructor: positions, the weights (FullWeights: full, or ZeRO-3 shards), group rows and
  // blocks' positions, x_, u1_, h_, u2_, gate_, up_, o_, rstd1_, rstd2_.
  m.alloc(Ll * sizeof(Pos));
  FullWeights::walk_construct(m, c, n, mode);
  m.alloc(U * Ll * sizeof(Pos) + RingAttention::block_pos_bytes(rs, R));
  m.alloc(F::floats(4 * T * d + 2 * T * i + nq + 2 * T));
  FullWeights::walk_set(m, c, n, mode);
  // Forward.
  FullWeights::walk_acquire(m, c, n, mode);
  m.alloc(F::floats(nq + 2 * nkv));                    // q, k, v (freed at the end of forward)
  m.alloc(2 * (nq + 2 * bkv) * detail::wire_size(c));  // x1_, x2_, x3_ send + receive (kept)
  m.alloc(F::floats(2 * nqh + nkvh + c.B * hq * Lb));  // qh_, kvh_, oh_, lse_ (kept)
  RingAttention::walk_forward(m, rs);
  m.alloc(F::floats(T * i));  // act
  m.release(F::floats(T * i + nq + 2 * nkv));
  FullWeights::walk_release(m, c, n, mode);
  // Backward.
  FullWeights::walk_acquire(m, c, n, mode);
  FullWeights::walk_grads(m, c, n, mode);
  m.alloc(F::floats(T * d + 2 * T * i + nq));  // du, s1, s2, dO
  m.alloc(F::floats(2 * nqh + nkvh));          // doh, dqh, dkvh
  RingAttention::walk_backward(m, rs);
  m.alloc(F::floats(nq + 2 * nkv));  // dq, dk, dv
  return m.peak();                   // (reduce() is in place or from the packed gradients)
}
}  // namespace

Cost Usp::cost(const BlockConfig& c, int n, int rank, int U, TokenLayout layout, WeightMode mode) {
  check(c, n, U, layout);
  namespace tm = comm::traffic_model;
  const Z Ll = c.L / n, Dh = c.head_dim(), hk = heads_per_rank(c.G, U);
  const Z cq = c.B * Ll * c.H * Dh;      // all-to-all buffer of q / o / dq / dout (U blocks)
  const Z ckv = c.B * Ll * hk * Dh * U;  // of k / v / dk / dv
  Cost cost, uly, ring, world;
  const std::size_t e = detail::wire_size(c);  // activations: 4, or 2 under bf16
  for (auto* s : {&uly.forward, &uly.backward}) {
    add_op(*s, comm::OpKind::alltoall, tm::all_to_all(cq, e, U));
    add_op(*s, comm::OpKind::alltoall, tm::all_to_all(ckv, e, U));
    add_op(*s, comm::OpKind::alltoall, tm::all_to_all(ckv, e, U));
    add_op(*s, comm::OpKind::alltoall, tm::all_to_all(cq, e, U));
  }
  RingAttention::add_cost(ring, c.B, U * Ll, hk, Dh, n / U, e);
  FullWeights::add_cost(world, c, n, rank, mode);  // every weight replicated on all N ranks
  cost.add("ulysses", uly);
  cost.add("ring", ring);
  cost.add("world", world);
  cost.peak_bytes = usp_peak(c, n, U, mode);
  return cost;
}

}  // namespace ody::strategies
