// The cost model of ulysses.cpp: exact traffic per op kind and the expected peak memory per
// rank, walked allocation by allocation in ulysses.cpp's program order (Cost, strategy.hpp).
#include "strategies/ulysses.hpp"

#include "kernels/attention.hpp"
#include "layers/row_blocked_mlp.hpp"
#include "strategies/head_exchange.hpp"
#include "strategies/layout.hpp"

namespace ody::strategies {

using namespace layers;
using Z = std::int64_t;

namespace {
// Expected peak memory per rank (Cost::peak_bytes, strategies/README.md): the constructor,
// set_weights, the first forward and a backward above, allocation by allocation.
std::uint64_t ulysses_peak(const BlockConfig& c, int n, WeightMode mode) {
  using F = MemoryWalk;
  MemoryWalk m;
  const Z Ll = c.L / n, T = c.B * Ll, d = c.d, Dh = c.head_dim(), H = c.H, G = c.G, i = c.ffn;
  const Z hq = H / n, hk = heads_per_rank(G, n);
  const Z nq = T * H * Dh, nkv = T * G * Dh;  // local q (o, dq, dO) and k (v, dk, dv)
  const Z nqh = c.B * c.L * hq * Dh,
          nkh = c.B * c.L * hk * Dh;  // head-sharded q and k (= the exchanges' sizes)
  const Z nlse = c.B * hq * c.L;
  // Exchange buffers (wire type): send and receive, or one of them when a float wire with
  // B = 1 receives / sends in place.
  const std::uint64_t wire = detail::wire_size(c) * ((!detail::bf16_wire(c) && c.B == 1) ? 1 : 2);
  const kernels::AttentionShape shape{c.B, c.L, c.L, hq, hk, Dh};
  // Constructor: positions, weights and packed gradients (or ZeRO-3 shards), x_, rstd1_, rstd2_,
  // pos_full_.
  m.alloc(Ll * sizeof(Pos));
  FullWeights::walk_construct(m, c, n, mode);
  m.alloc(F::floats(T * d + 2 * T) + c.L * sizeof(Pos));
  FullWeights::walk_set(m, c, n, mode);
  // Forward.
  FullWeights::walk_acquire(m, c, n, mode);
  m.alloc(F::floats(nq + 2 * nkv));   // q, k, v
  m.transient(F::floats(T * d));      // u
  m.alloc(F::floats(nqh + 2 * nkh));  // qh_, kh_, vh_
  m.alloc(nq * wire);                 // q's exchange posted, then q freed
  m.release(F::floats(nq));
  for (int kv = 0; kv < 2; ++kv) {
    m.alloc(nkh * wire);
    m.release(F::floats(nkv));
  }
  m.release((nq + 2 * nkh) * wire);
  m.alloc(F::floats(nqh + nlse));  // oh_, lse_
  m.transient(kernels::attention_forward_workspace_bytes<float>(shape));
  m.alloc(F::floats(nq));  // o_
  m.transient(nq * wire);
  m.alloc(F::floats(T * d + 2 * T * i));  // h_, gate_, up_
  m.transient(layers::mlp_up_forward_scratch_bytes(T, d, i));
  m.transient(layers::mlp_down_scratch_bytes(T, i));
  FullWeights::walk_release(m, c, n, mode);
  // Backward.
  FullWeights::walk_acquire(m, c, n, mode);
  FullWeights::walk_grads(m, c, n, mode);
  m.transient(layers::mlp_down_scratch_bytes(T, i));
  m.transient(layers::mlp_up_backward_scratch_bytes(T, d, i));
  m.release(F::floats(2 * T * i + T * d));  // gate_, up_, h_
  m.alloc(F::floats(nqh + nq));             // doh, dO
  m.release(F::floats(nq));                 // o_
  m.alloc(nq * wire);
  m.release(F::floats(nq));  // dO
  m.release(nq * wire);
  m.alloc(F::floats(nqh + 2 * nkh));  // dqh, dkh, dvh
  m.transient(kernels::attention_backward_workspace_bytes<float>(shape));
  m.release(F::floats(2 * nqh + 2 * nkh + nqh + nlse));  // doh, qh_, kh_, vh_, oh_, lse_
  m.alloc(F::floats(nq + 2 * nkv));                      // dq, dk, dv
  m.alloc((nq + 2 * nkh) * wire);                        // the three exchanges back
  m.release((nq + 2 * nkh) * wire + F::floats(nqh + 2 * nkh));
  m.alloc(F::floats(2 * T * d));  // du, u
  m.release(F::floats(nq + 2 * nkv + 2 * T * d));
  return m.peak();  // (reduce() then frees zero3's gradients and gathered weights)
}
}  // namespace

Cost Ulysses::cost(const BlockConfig& c, int n, int rank, WeightMode mode) {
  check(c, n);
  namespace tm = comm::traffic_model;
  const Z Ll = c.L / n, Dh = c.head_dim();
  const Z hk = heads_per_rank(c.G, n);
  const Z cq = c.B * Ll * c.H * Dh;  // all-to-all buffer of q / o / dq / dout (n blocks)
  const Z ckv = c.B * Ll * hk * Dh * n;
  Cost cost;
  const std::size_t e = detail::wire_size(c);  // activations: 4, or 2 under bf16
  for (auto* s : {&cost.forward, &cost.backward}) {
    add_op(*s, comm::OpKind::alltoall, tm::all_to_all(cq, e, n));
    add_op(*s, comm::OpKind::alltoall, tm::all_to_all(ckv, e, n));
    add_op(*s, comm::OpKind::alltoall, tm::all_to_all(ckv, e, n));
    add_op(*s, comm::OpKind::alltoall, tm::all_to_all(cq, e, n));
  }
  cost.peak_bytes = ulysses_peak(c, n, mode);
  FullWeights::add_cost(cost, c, n, rank, mode);
  return cost;
}

}  // namespace ody::strategies
