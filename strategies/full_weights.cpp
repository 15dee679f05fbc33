#include "strategies/full_weights.hpp"

#include <algorithm>

namespace ody::strategies {

namespace {
template <class V>
void free_vector(V& v) {
  V().swap(v);
}
// Full-shape tensors, tensor by tensor (replicated weights and gradients).
template <class From, class To>
void copy_tensors(const From& from, const To& to) {
  const auto s = from.tensors(), d = to.tensors();
  for (std::size_t k = 0; k < s.size(); ++k) std::copy_n(s[k].data, s[k].size(), d[k].data);
}
}  // namespace

FullWeights::FullWeights(const BlockConfig& cfg, comm::Communicator& comm, WeightMode mode)
    : cfg_(cfg), comm_(&comm) {
  if (mode == WeightMode::zero3) {
    zero3_ = std::make_unique<Zero3Weights>(cfg, comm);
    return;
  }
  w_ = layers::BlockWeights(cfg);
  g_flat_.resize(Zero3Weights::weight_count(cfg));
  Zero3Weights::view_packed(g_, cfg, g_flat_.data());
}

void FullWeights::set(const layers::BlockWeights& full) {
  if (zero3_) return zero3_->load(full);
  copy_tensors(full, w_);
}

const layers::BlockWeights& FullWeights::acquire() {
  if (zero3_) zero3_->gather(w_flat_, w_);
  return w_;
}

void FullWeights::release() {
  if (!zero3_) return;
  w_ = layers::BlockWeights();
  free_vector(w_flat_);
  g_ = layers::BlockGrads();
  free_vector(g_flat_);
}

layers::BlockGrads& FullWeights::grads() {
  if (zero3_) {
    g_flat_.assign(Zero3Weights::padded_count(cfg_, comm_->size()), 0.f);
    Zero3Weights::view_packed(g_, cfg_, g_flat_.data());
  }
  return g_;
}

void FullWeights::reduce() {
  if (zero3_) {  // full gradients -> this rank's shard of their sum
    zero3_->reduce_grads(g_flat_);
    return release();
  }
  comm_->all_reduce(comm::cbuf(g_flat_), comm::buf(g_flat_), comm::ReduceOp::sum);
}

void FullWeights::gather_grads(const layers::BlockGrads& full) {
  if (zero3_) return zero3_->gather_grads(full);
  copy_tensors(g_, full);
}

void FullWeights::add_cost(Cost& cost, const BlockConfig& c, int n, int rank, WeightMode mode) {
  if (mode == WeightMode::zero3) return Zero3Weights::add_cost(cost, c, n);
  add_op(cost.backward, comm::OpKind::allreduce,
         comm::traffic_model::all_reduce(Zero3Weights::weight_count(c), 4, n, rank));
}

void FullWeights::walk_construct(MemoryWalk& m, const BlockConfig& c, int n, WeightMode mode) {
  if (mode == WeightMode::zero3) return Zero3Weights::walk_construct(m, c, n);
  m.alloc(2 * layers::Block::parameter_bytes(c));
}
void FullWeights::walk_set(MemoryWalk& m, const BlockConfig& c, int n, WeightMode mode) {
  if (mode == WeightMode::zero3) Zero3Weights::walk_load(m, c, n);
}
void FullWeights::walk_acquire(MemoryWalk& m, const BlockConfig& c, int n, WeightMode mode) {
  if (mode == WeightMode::zero3) Zero3Weights::walk_gather(m, c, n);
}
void FullWeights::walk_release(MemoryWalk& m, const BlockConfig& c, int n, WeightMode mode) {
  if (mode == WeightMode::zero3) m.release(Zero3Weights::gathered_bytes(c, n));
}
void FullWeights::walk_grads(MemoryWalk& m, const BlockConfig& c, int n, WeightMode mode) {
  if (mode == WeightMode::zero3) m.alloc(MemoryWalk::floats(Zero3Weights::padded_count(c, n)));
}

}  // namespace ody::strategies
