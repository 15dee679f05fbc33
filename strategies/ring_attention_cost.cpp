// The cost model of ring_attention.cpp: exact traffic per op kind and the expected peak memory per
// rank, walked allocation by allocation in ring_attention.cpp's program order (Cost, strategy.hpp).
#include "strategies/ring_attention.hpp"

#include "kernels/attention.hpp"
#include "strategies/layout.hpp"
#include "strategies/wire.hpp"

namespace ody::strategies {

using Z = std::int64_t;

void RingAttention::walk_forward(MemoryWalk& m, const Shape& s) {
  const std::uint64_t e = s.bf16_wire ? sizeof(bf16) : sizeof(float),
                      nkv = std::uint64_t(s.B * s.Lb * s.hk * s.Dh);
  const std::uint64_t bufs =
      2 * (2 * nkv * e) + (s.bf16_wire ? std::uint64_t(s.B * s.Lb * s.hq * s.Dh) * e : 0);
  const kernels::AttentionShape whole{s.B, s.Lb, s.Lb, s.hq, s.hk, s.Dh};
  m.alloc(bufs);  // cur, next (and qstore)
  m.transient(kernel_scratch(s.bf16_wire, whole, false));
  m.release(bufs);
}

void RingAttention::walk_backward(MemoryWalk& m, const Shape& s) {
  const std::uint64_t e = s.bf16_wire ? sizeof(bf16) : sizeof(float),
                      nkv = std::uint64_t(s.B * s.Lb * s.hk * s.Dh);
  const std::uint64_t bufs = 2 * (2 * nkv * e) +
                             (s.bf16_wire ? std::uint64_t(s.B * s.Lb * s.hq * s.Dh) * e : 0) +
                             2 * (2 * nkv * sizeof(float));  // + acc, acc_next
  const kernels::AttentionShape whole{s.B, s.Lb, s.Lb, s.hq, s.hk, s.Dh};
  m.alloc(bufs);
  m.transient(kernel_scratch(s.bf16_wire, whole, true));
  m.release(bufs);
}

void RingAttention::add_cost(Cost& cost, Z B, Z Lb, Z hk, Z Dh, int R, std::size_t kv_esize) {
  const std::uint64_t kv_bytes = 2 * std::uint64_t(B * Lb * hk * Dh) * kv_esize,
                      acc_bytes = 2 * std::uint64_t(B * Lb * hk * Dh) * 4;
  for (int s = 0; s + 1 < R; ++s)
    for (auto* ph : {&cost.forward, &cost.backward}) {
      add_op(*ph, comm::OpKind::send, {kv_bytes, 0});
      add_op(*ph, comm::OpKind::recv, {0, kv_bytes});
    }
  if (R > 1)
    for (int s = 0; s < R; ++s) {  // fp32 dk/dv accumulators, R hops
      add_op(cost.backward, comm::OpKind::send, {acc_bytes, 0});
      add_op(cost.backward, comm::OpKind::recv, {0, acc_bytes});
    }
}

}  // namespace ody::strategies
