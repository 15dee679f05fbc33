#include "strategies/zero3.hpp"

#include <algorithm>

#include "strategies/wire.hpp"

namespace ody::strategies {

namespace {
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

Zero3Weights::Zero3Weights(const BlockConfig& cfg, comm::Communicator& comm)
    : cfg_(cfg), comm_(&comm) {
  const auto s = padded_count(cfg, comm.size()) / comm.size();
  shard_.resize(s);
  grad_shard_.resize(s);
}

void Zero3Weights::load(const layers::BlockWeights& full) {
  std::vector<float> flat(padded_count(cfg_, comm_->size()));
  pack(full.tensors(), flat);
  std::copy_n(flat.begin() + comm_->rank() * shard_.size(), shard_.size(), shard_.begin());
}

void Zero3Weights::gather_grads(const layers::BlockGrads& full) {
  std::vector<float> flat(padded_count(cfg_, comm_->size()));
  comm_->all_gather(comm::cbuf(grad_shard_), comm::buf(flat));
  unpack(flat, full.tensors());
}

void Zero3Weights::gather(std::vector<float>& flat, layers::BlockWeights& w) {
  flat.resize(padded_count(cfg_, comm_->size()));
  detail::all_gather_wire(*comm_, shard_.data(), std::int64_t(shard_.size()), flat.data(),
                          detail::bf16_wire(cfg_));
  view_packed(w, cfg_, flat.data());
}

void Zero3Weights::reduce_grads(const std::vector<float>& packed) {
  comm_->reduce_scatter(comm::cbuf(packed), comm::buf(grad_shard_), comm::ReduceOp::sum);
}

std::int64_t Zero3Weights::weight_count(const BlockConfig& c) {
  return 2 * c.d + (2 * c.H + 2 * c.G) * c.head_dim() * c.d + 3 * c.ffn * c.d;
}

namespace {
// Hands out consecutive [rows, cols] / [n] views of flat.
struct Carver {
  float* p;
  layers::Array1 v1(std::int64_t n) {
    layers::Array1 v(p, n);
    p += n;
    return v;
  }
  layers::Array2 v2(std::int64_t rows, std::int64_t cols) {
    layers::Array2 v(p, rows, cols);
    p += rows * cols;
    return v;
  }
};
}  // namespace

void Zero3Weights::view_packed(layers::BlockWeights& w, const BlockConfig& c, float* flat) {
  const std::int64_t q = c.H * c.head_dim(), kv = c.G * c.head_dim();
  Carver k{flat};
  w.attn_norm = k.v1(c.d);
  w.wq = k.v2(q, c.d);
  w.wk = k.v2(kv, c.d);
  w.wv = k.v2(kv, c.d);
  w.wo = k.v2(c.d, q);
  w.mlp_norm = k.v1(c.d);
  w.w_gate = k.v2(c.ffn, c.d);
  w.w_up = k.v2(c.ffn, c.d);
  w.w_down = k.v2(c.d, c.ffn);
}

void Zero3Weights::view_packed(layers::BlockGrads& g, const BlockConfig& c, float* flat) {
  const std::int64_t q = c.H * c.head_dim(), kv = c.G * c.head_dim();
  Carver k{flat};
  g.dattn_norm = k.v1(c.d);
  g.dwq = k.v2(q, c.d);
  g.dwk = k.v2(kv, c.d);
  g.dwv = k.v2(kv, c.d);
  g.dwo = k.v2(c.d, q);
  g.dmlp_norm = k.v1(c.d);
  g.dw_gate = k.v2(c.ffn, c.d);
  g.dw_up = k.v2(c.ffn, c.d);
  g.dw_down = k.v2(c.d, c.ffn);
}

void Zero3Weights::add_cost(Cost& cost, const BlockConfig& cfg, int n) {
  namespace tm = comm::traffic_model;
  const std::int64_t s = padded_count(cfg, n) / n;
  const std::size_t e = detail::wire_size(cfg);  // weights gathered as bf16 under bf16
  add_op(cost.forward, comm::OpKind::allgather, tm::all_gather(s, e, n));
  add_op(cost.backward, comm::OpKind::allgather, tm::all_gather(s, e, n));
  add_op(cost.backward, comm::OpKind::reducescatter, tm::reduce_scatter(s, 4, n));
}

void Zero3Weights::walk_construct(MemoryWalk& m, const BlockConfig& cfg, int n) {
  m.alloc(2 * MemoryWalk::floats(padded_count(cfg, n) / n));  // shard_, grad_shard_
}

void Zero3Weights::walk_load(MemoryWalk& m, const BlockConfig& cfg, int n) {
  m.transient(MemoryWalk::floats(padded_count(cfg, n)));  // flat
}

std::uint64_t Zero3Weights::gathered_bytes(const BlockConfig& cfg, int n) {
  return MemoryWalk::floats(padded_count(cfg, n));
}

void Zero3Weights::walk_gather(MemoryWalk& m, const BlockConfig& cfg, int n) {
  const std::int64_t wp = padded_count(cfg, n);
  m.alloc(gathered_bytes(cfg, n));  // flat
  if (detail::bf16_wire(cfg))       // all_gather_wire's bf16 send and receive copies
    m.transient(std::uint64_t(wp / n + wp) * sizeof(bf16));
}

}  // namespace ody::strategies
