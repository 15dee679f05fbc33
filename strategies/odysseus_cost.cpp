// The cost model of odysseus.cpp: exact traffic per op kind and the expected peak memory per
// rank, walked allocation by allocation in odysseus.cpp's program order (Cost, strategy.hpp).
#include "strategies/odysseus.hpp"

namespace ody::strategies {

using namespace layers;
using Z = std::int64_t;

namespace {
// Expected peak memory per rank (Cost::peak_bytes, strategies/README.md): the constructor,
// set_weights, the first forward and a backward above, allocation by allocation.
std::uint64_t odysseus_peak(const BlockConfig& c, int n) {
  MemoryWalk m;
  const Z T = c.B * (c.L / n);
  m.alloc(c.L / n * sizeof(Pos));
  TpAttention::walk_construct(m, c, n);
  Zero3Mlp::walk_construct(m, c, n, T);
  TpAttention::walk_set_weights(m, c, n);
  // Forward: the MLP weights' gathers in flight during attention, h straight into the MLP's buffer.
  Zero3Mlp::walk_post_gathers(m, c, n, true);
  Zero3Mlp::walk_input(m, c, T);
  TpAttention::walk_forward(m, c, n);
  Zero3Mlp::walk_forward(m, c, T);
  // Backward: the MLP's full gradients travel during the attention backward.
  Zero3Mlp::walk_post_gathers(m, c, n, false);
  Zero3Mlp::walk_backward(m, c, T);
  TpAttention::walk_backward(m, c, n);
  m.transient(MemoryWalk::floats(2 * c.d));  // norms
  Zero3Mlp::walk_finish(m, c, n);
  return m.peak();
}
}  // namespace

Cost Odysseus::cost(const BlockConfig& c, int n, int rank) {
  check(c, n);
  namespace tm = comm::traffic_model;
  Cost cost;
  TpAttention::add_cost(cost, c, n);
  Zero3Mlp::add_cost(cost, c, n);
  add_op(cost.backward, comm::OpKind::allreduce, tm::all_reduce(2 * c.d, 4, n, rank));
  cost.peak_bytes = odysseus_peak(c, n);
  return cost;
}

}  // namespace ody::strategies
