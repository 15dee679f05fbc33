// The cost model of tp_attention.cpp: exact traffic per op kind and the expected peak memory per
// rank, walked allocation by allocation in tp_attention.cpp's program order (Cost, strategy.hpp).
#include "strategies/tp_attention.hpp"

#include "kernels/attention.hpp"
#include "strategies/seq_exchange.hpp"
#include "strategies/weight_slices.hpp"

namespace ody::strategies {

using namespace layers;
using Z = std::int64_t;

void TpAttention::add_cost(Cost& cost, const BlockConfig& c, int n, int ring) {
  add_cost(cost, cost, c, n, ring);
}

void TpAttention::add_cost(Cost& tp, Cost& ring_part, const BlockConfig& c, int n, int ring) {
  namespace tm = comm::traffic_model;
  const Z blk = c.B * (c.L / (n * ring)) * c.d;
  const std::size_t e =
      detail::wire_size(c);  // the all-gathers move activations; partial sums stay fp32
  for (auto* s : {&tp.forward, &tp.backward}) {
    add_op(*s, comm::OpKind::allgather, tm::all_gather(blk, e, n));
    add_op(*s, comm::OpKind::reducescatter, tm::reduce_scatter(blk, 4, n));
  }
  RingAttention::add_cost(ring_part, c.B, n * (c.L / (n * ring)), c.G / n, c.head_dim(), ring, e);
}
// ---- expected peak memory (Cost::peak_bytes): mirrors the functions above step by step ----

namespace {
struct TpShape {  // the sizes TpAttention allocates with
  Z T, TL, Lg, d, Dh, hq, hk, nq, nkv;
  bool bf16;
  TpShape(const BlockConfig& c, int n, int R) {
    const Z Ll = c.L / (Z(n) * R);
    T = c.B * Ll;
    Lg = n * Ll;
    TL = c.B * Lg;
    d = c.d;
    Dh = c.head_dim();
    hq = c.H / n;
    hk = c.G / n;
    nq = TL * hq * Dh;
    nkv = TL * hk * Dh;
    bf16 = detail::bf16_wire(c);
  }
};
using F = MemoryWalk;
// gather_seq's temporary bf16 send / receive copies (a float wire gathers in place, B = 1,
// or through scratch_, B > 1, which TpAttention's first forward allocates and keeps).
std::uint64_t gather_seq_wire_bytes(bool bf16_wire, Z blk, int n) {
  return bf16_wire ? std::uint64_t(blk + blk * n) * sizeof(bf16) : 0;
}
}  // namespace

void TpAttention::walk_construct(MemoryWalk& m, const BlockConfig& c, int n, int R) {
  const TpShape s(c, n, std::max(R, 1));
  m.alloc(F::floats(2 * s.d +
                    2 * (2 * s.hq + 2 * s.hk) * s.Dh * s.d));  // norm, shards, their gradients
  m.alloc(F::floats(s.T * s.d + s.T));                         // x_, rstd_
  if (R == 0) {                                                // no ring communicator
    m.alloc(std::uint64_t(c.L) * sizeof(Pos));                 // pos_full_
    return;
  }
  m.alloc(2 * std::uint64_t(s.Lg) * sizeof(Pos));  // map_, pos_full_
  m.alloc(
      RingAttention::block_pos_bytes(RingAttention::Shape{c.B, s.Lg, s.hq, s.hk, s.Dh, s.bf16}, R));
}

void TpAttention::walk_set_weights(MemoryWalk& m, const BlockConfig& c, int n) {
  const TpShape s(c, n, 1);
  // Each new shard is allocated while the constructor's is still held.
  m.transient(F::floats(std::max(s.hq, s.hk) * s.Dh * s.d));
}

void TpAttention::walk_forward(MemoryWalk& m, const BlockConfig& c, int n, int R) {
  const TpShape s(c, n, std::max(R, 1));
  const bool scratch = c.B > 1;    // scratch_ (TL·d) for B > 1, kept from the first use on
  m.alloc(F::floats(s.TL * s.d));  // u_full_
  m.alloc(F::floats(s.T * s.d));   // u
  m.transient(gather_seq_wire_bytes(s.bf16, s.T * s.d, n));
  if (scratch && !s.bf16) m.alloc(F::floats(s.TL * s.d));
  m.release(F::floats(s.T * s.d));
  if (R > 0) m.transient(F::floats(s.TL * s.d));                 // permute tmp
  m.alloc(F::floats(2 * s.nq + 2 * s.nkv + c.B * s.hq * s.Lg));  // q_, kv_, o_, lse_
  if (R > 0)
    RingAttention::walk_forward(m, RingAttention::Shape{c.B, s.Lg, s.hq, s.hk, s.Dh, s.bf16});
  else
    m.transient(
        kernels::attention_forward_workspace_bytes<float>({c.B, s.Lg, s.Lg, s.hq, s.hk, s.Dh}));
  m.alloc(F::floats(s.TL * s.d));                 // partial
  if (R > 0) m.transient(F::floats(s.TL * s.d));  // permute tmp
  m.alloc(F::floats(s.T * s.d));                  // local
  if (scratch && s.bf16) m.alloc(F::floats(s.TL * s.d));
  m.release(F::floats(s.TL * s.d + s.T * s.d));
}

void TpAttention::walk_backward(MemoryWalk& m, const BlockConfig& c, int n, int R) {
  const TpShape s(c, n, std::max(R, 1));
  m.alloc(F::floats(s.TL * s.d));  // dh_full
  m.transient(gather_seq_wire_bytes(s.bf16, s.T * s.d, n));
  if (R > 0) m.transient(F::floats(s.TL * s.d));
  m.alloc(F::floats(s.nq));              // dO
  m.release(F::floats(s.TL * s.d));      // dh_full
  m.alloc(F::floats(s.nq + 2 * s.nkv));  // dq, dkv
  if (R > 0)
    RingAttention::walk_backward(m, RingAttention::Shape{c.B, s.Lg, s.hq, s.hk, s.Dh, s.bf16});
  else
    m.transient(
        kernels::attention_backward_workspace_bytes<float>({c.B, s.Lg, s.Lg, s.hq, s.hk, s.Dh}));
  m.release(F::floats(s.nq + 2 * s.nq + 2 * s.nkv + c.B * s.hq * s.Lg));  // dO, q_, kv_, o_, lse_
  m.alloc(F::floats(s.TL * s.d));                                         // du_full
  m.release(F::floats(s.nq + 2 * s.nkv + s.TL * s.d));                    // dq, dkv, u_full_
  if (R > 0) m.transient(F::floats(s.TL * s.d));
  m.alloc(F::floats(s.T * s.d));                 // du
  m.release(F::floats(s.TL * s.d + s.T * s.d));  // du_full, du
}

void TpAttention::gather_grads(const BlockGrads& full) {
  detail::gather_rows(*comm_, dwq_, full.dwq);
  detail::gather_rows(*comm_, dwk_, full.dwk);
  detail::gather_rows(*comm_, dwv_, full.dwv);
  detail::gather_cols(*comm_, dwo_, full.dwo);
}

}  // namespace ody::strategies
