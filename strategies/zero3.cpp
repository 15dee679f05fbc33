#include "strategies/zero3.hpp"

#include <algorithm>

namespace ody::strategies {

namespace {
std::int64_t weight_count(const BlockConfig& c) {
  return 2 * c.d + (2 * c.H + 2 * c.G) * c.head_dim() * c.d + 3 * c.ffn * c.d;
}
template <class Tensors>
void pack(const Tensors& ts, std::vector<float>& flat) {
  std::size_t off = 0;
  for (const auto& t : ts) off = std::copy_n(t.data, t.size(), flat.begin() + off) - flat.begin();
  std::fill(flat.begin() + off, flat.end(), 0.f);
}
template <class Tensors>
void unpack(const std::vector<float>& flat, const Tensors& ts) {
  std::size_t off = 0;
  for (const auto& t : ts) {
    std::copy_n(flat.begin() + off, t.size(), t.data);
    off += t.size();
  }
}
}  // namespace

std::int64_t Zero3Weights::padded_count(const BlockConfig& cfg, int n) {
  return (weight_count(cfg) + n - 1) / n * n;
}

Zero3Weights::Zero3Weights(const BlockConfig& cfg, comm::Communicator& comm) : cfg_(cfg), comm_(&comm) {
  const auto s = padded_count(cfg, comm.size()) / comm.size();
  shard_.resize(s);
  grad_shard_.resize(s);
}

void Zero3Weights::load(const layers::BlockWeights& full) {
  std::vector<float> flat(padded_count(cfg_, comm_->size()));
  pack(full.tensors(), flat);
  std::copy_n(flat.begin() + comm_->rank() * shard_.size(), shard_.size(), shard_.begin());
}

void Zero3Weights::gather(layers::BlockWeights& w) {
  std::vector<float> flat(padded_count(cfg_, comm_->size()));
  comm_->all_gather(comm::cbuf(shard_), comm::buf(flat));
  w = layers::BlockWeights(cfg_);
  unpack(flat, w.tensors());
}

void Zero3Weights::reduce_grads(const layers::BlockGrads& g) {
  std::vector<float> flat(padded_count(cfg_, comm_->size()));
  pack(g.tensors(), flat);
  comm_->reduce_scatter(comm::cbuf(flat), comm::buf(grad_shard_), comm::ReduceOp::sum);
}

void Zero3Weights::gather_grads(const layers::BlockGrads& full) {
  std::vector<float> flat(padded_count(cfg_, comm_->size()));
  comm_->all_gather(comm::cbuf(grad_shard_), comm::buf(flat));
  unpack(flat, full.tensors());
}

void Zero3Weights::add_cost(Cost& cost, const BlockConfig& cfg, int n) {
  namespace tm = comm::traffic_model;
  const std::int64_t s = padded_count(cfg, n) / n;
  add_op(cost.forward, comm::OpKind::allgather, tm::all_gather(s, 4, n));
  add_op(cost.backward, comm::OpKind::allgather, tm::all_gather(s, 4, n));
  add_op(cost.backward, comm::OpKind::reducescatter, tm::reduce_scatter(s, 4, n));
}

}  // namespace ody::strategies
