// The cost model of zero3_mlp.cpp: exact traffic per op kind and the expected peak memory per
// rank, walked allocation by allocation in zero3_mlp.cpp's program order (Cost, strategy.hpp).
#include "strategies/zero3_mlp.hpp"

#include "layers/row_blocked_mlp.hpp"
#include "strategies/wire.hpp"

namespace ody::strategies {

using namespace layers;
using Z = std::int64_t;

namespace {
using F = MemoryWalk;
// await(): under bf16 the gathered bf16 weight is widened into a new fp32 buffer, then freed.
void walk_await(MemoryWalk& m, const BlockConfig& c, Z elems) {
  if (!detail::bf16_wire(c)) return;
  m.alloc(F::floats(elems));
  m.release(std::uint64_t(elems) * sizeof(bf16));
}
}  // namespace

void Zero3Mlp::walk_construct(MemoryWalk& m, const BlockConfig& c, int n, Z tokens) {
  const Z sg = c.ffn / n * c.d, sd = c.d / n * c.ffn;
  m.alloc(
      F::floats(2 * c.d + 2 * (2 * sg + sd) + tokens));  // norms, shards, gradient shards, rstd_
}

void Zero3Mlp::walk_post_gathers(MemoryWalk& m, const BlockConfig& c, int n, bool first) {
  const Z full = 3 * c.ffn * c.d;  // w_gate, w_up [i, d], w_down [d, i]
  if (!detail::bf16_wire(c)) {
    m.alloc(F::floats(full));
    return;
  }
  if (first) m.alloc(std::uint64_t(full / n) * sizeof(bf16));  // send_g_, send_u_, send_d_ (kept)
  m.alloc(std::uint64_t(full) * sizeof(bf16));                 // gate_h_, up_h_, down_h_
}

void Zero3Mlp::walk_input(MemoryWalk& m, const BlockConfig& c, Z tokens) {
  m.alloc(F::floats(tokens * c.d));
}

void Zero3Mlp::walk_forward(MemoryWalk& m, const BlockConfig& c, Z T) {
  const Z d = c.d, i = c.ffn;
  m.alloc(F::floats(2 * T * i));  // gate_, up_
  walk_await(m, c, i * d);
  walk_await(m, c, i * d);
  m.transient(layers::mlp_up_forward_scratch_bytes(T, d, i));
  m.release(F::floats(2 * i * d));  // gate_full_, up_full_
  walk_await(m, c, d * i);
  m.transient(layers::mlp_down_scratch_bytes(T, i));
  m.release(F::floats(d * i));  // down_full_
}

void Zero3Mlp::walk_backward(MemoryWalk& m, const BlockConfig& c, Z T) {
  const Z d = c.d, i = c.ffn;
  walk_await(m, c, d * i);
  m.alloc(F::floats(d * i));  // ddown_full_
  m.transient(layers::mlp_down_scratch_bytes(T, i));
  m.release(F::floats(d * i));  // down_full_
  walk_await(m, c, i * d);
  walk_await(m, c, i * d);
  m.alloc(F::floats(2 * i * d));  // dgate_full_, dup_full_
  m.transient(layers::mlp_up_backward_scratch_bytes(T, d, i));
  m.release(F::floats(2 * i * d + 2 * T * i + T * d));  // gate_full_, up_full_, gate_, up_, h_
}

void Zero3Mlp::walk_finish(MemoryWalk& m, const BlockConfig& c, int n) {
  const Z full = 3 * c.ffn * c.d;
  m.release(F::floats(full));  // the full gradients
  if (detail::bf16_wire(c)) m.release(std::uint64_t(full / n) * sizeof(bf16));
}

void Zero3Mlp::add_cost(Cost& cost, const BlockConfig& c, int n) {
  namespace tm = comm::traffic_model;
  const Z sg = c.ffn / n * c.d, sd = c.d / n * c.ffn;  // shard elements
  const std::size_t e = detail::wire_size(c);          // weights gathered as bf16 under bf16
  for (auto* s : {&cost.forward, &cost.backward}) {
    add_op(*s, comm::OpKind::allgather, tm::all_gather(sg, e, n));
    add_op(*s, comm::OpKind::allgather, tm::all_gather(sg, e, n));
    add_op(*s, comm::OpKind::allgather, tm::all_gather(sd, e, n));
  }
  add_op(cost.backward, comm::OpKind::reducescatter, tm::reduce_scatter(sg, 4, n));
  add_op(cost.backward, comm::OpKind::reducescatter, tm::reduce_scatter(sg, 4, n));
  add_op(cost.backward, comm::OpKind::reducescatter, tm::reduce_scatter(sd, 4, n));
}

}  // namespace ody::strategies
