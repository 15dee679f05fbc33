#include "strategies/ulysses.hpp"

#include <numeric>

#include "base/error.hpp"
#include "kernels/attention.hpp"
#include "layers/linear.hpp"
#include "layers/mlp.hpp"
#include "layers/rmsnorm.hpp"
#include "layers/rope.hpp"
#include "strategies/chunked_mlp.hpp"
#include "strategies/detail.hpp"

namespace ody::strategies {

using namespace layers;
using detail::Z;

void Ulysses::check(const BlockConfig& cfg, int n) {
  cfg.validate();
  check_layout(TokenLayout::contiguous, cfg.L, n, "ulysses: L");
  check_divisible("ulysses: H (query heads are sharded over the group)", "H", cfg.H, "N", n);
  ODY_REQUIRE(cfg.G % n == 0 || n % cfg.G == 0, "ulysses: G",
              "G % N == 0 (kv heads sharded) or N % G == 0 (kv heads replicated, one per rank), N = " +
                  std::to_string(n),
              "G = ", cfg.G);
}

namespace {

template <class T>
void release(std::vector<T>& v) {
  std::vector<T>().swap(v);
}
Kokkos::ViewAllocateWithoutInitializing uninit(const char* name) { return Kokkos::ViewAllocateWithoutInitializing(name); }

// The sequence <-> head all-to-alls of detail.hpp with buffers that live only while the
// exchange does; W is the wire type (float, or bf16 under Precision::bf16: wire.hpp).
// Sequence -> head: src [B, Ll, heads, Dh] is packed into send (n blocks [B, Ll, c, Dh]);
// with B = 1 and a float wire the received blocks in rank order are dst [L, c, Dh] itself,
// so they are received in place (otherwise into recv, then unpacked). send/recv must live
// until finish_seq_to_head, which releases them.
template <class W>
constexpr bool kInPlace = std::is_same_v<W, float>;

template <class W>
comm::WorkPtr post_seq_to_head(comm::Communicator& comm, const float* src, float* dst, std::vector<W>& send,
                               std::vector<W>& recv, Z B, Z Ll, Z heads, Z Dh, comm::Tag tag) {
  const int n = comm.size();
  const Z c = detail::heads_per_rank(heads, n), blk = B * Ll * c * Dh;
  send.resize(blk * n);
  for (int j = 0; j < n; ++j) {
    const Z h0 = detail::head_start(heads, n, j);
    for (Z t = 0; t < B * Ll; ++t)
      detail::convert_n(src + (t * heads + h0) * Dh, c * Dh, send.data() + j * blk + t * c * Dh);
  }
  if constexpr (kInPlace<W>) {
    if (B == 1) return comm.all_to_all_async(comm::cbuf(send), comm::buf(dst, blk * n), tag);
  }
  recv.resize(blk * n);
  return comm.all_to_all_async(comm::cbuf(send), comm::buf(recv), tag);
}
template <class W>
void finish_seq_to_head(const comm::WorkPtr& w, float* dst, std::vector<W>& send, std::vector<W>& recv, int n,
                        Z B, Z Ll, Z heads, Z Dh) {
  w->wait();
  release(send);
  if (!kInPlace<W> || B > 1) detail::seq_to_head_finish(recv, dst, n, B, Ll, heads, Dh);
  release(recv);
}
// Head -> sequence: src [B, L, c, Dh]; with B = 1 and a float wire it is the send buffer
// itself (it must stay alive and unchanged until finish_head_to_seq; otherwise packed).
template <class W>
comm::WorkPtr post_head_to_seq(comm::Communicator& comm, const float* src, std::vector<W>& send,
                               std::vector<W>& recv, Z B, Z Ll, Z heads, Z Dh, comm::Tag tag) {
  const int n = comm.size();
  const Z c = detail::heads_per_rank(heads, n), blk = B * Ll * c * Dh, L = Ll * n;
  recv.resize(blk * n);
  if constexpr (kInPlace<W>) {
    if (B == 1) return comm.all_to_all_async(comm::cbuf(src, blk * n), comm::buf(recv), tag);
  }
  send.resize(blk * n);
  for (int j = 0; j < n; ++j)
    for (Z b = 0; b < B; ++b)
      detail::convert_n(src + (b * L + j * Ll) * c * Dh, Ll * c * Dh, send.data() + j * blk + b * Ll * c * Dh);
  return comm.all_to_all_async(comm::cbuf(send), comm::buf(recv), tag);
}
template <class W>
void finish_head_to_seq(const comm::WorkPtr& w, float* dst, std::vector<W>& send, std::vector<W>& recv, int n,
                        Z B, Z Ll, Z heads, Z Dh, bool accumulate) {
  w->wait();
  release(send);
  detail::head_to_seq_finish(recv, dst, n, B, Ll, heads, Dh, accumulate);
  release(recv);
}

// Calls fn(W{}) with the wire type of this precision.
template <class F>
void with_wire(const BlockConfig& c, F&& fn) {
  if (detail::bf16_wire(c))
    fn(bf16{});
  else
    fn(float{});
}

}  // namespace

Ulysses::Ulysses(const BlockConfig& cfg, comm::Communicator& comm, WeightMode mode)
    : Strategy((check(cfg, comm.size()), cfg), comm, TokenLayout::contiguous, "ulysses: L") {
  ODY_REQUIRE(mode == WeightMode::replicated || mode == WeightMode::zero3, "ulysses: weight mode",
              "replicated or zero3", to_string(mode));
  mode_ = mode;
  if (mode == WeightMode::zero3) {
    zero3_ = std::make_unique<Zero3Weights>(cfg, comm);
  } else {
    w_ = BlockWeights(cfg);
    grad_flat_.resize(Zero3Weights::weight_count(cfg));
    Zero3Weights::view_packed(g_, cfg, grad_flat_.data());
  }
  const Z T = cfg.B * local_len();
  x_ = Array2("x", T, cfg.d);
  rstd1_ = Array1("rstd1", T);
  rstd2_ = Array1("rstd2", T);
  pos_full_.resize(cfg.L);
  std::iota(pos_full_.begin(), pos_full_.end(), Pos(0));
}

void Ulysses::set_weights(const BlockWeights& full) {
  if (zero3_) return zero3_->load(full);
  detail::copy_weights(full, w_);
}

void Ulysses::do_forward(Span3<float> y, Span3<const float> x) {
  const BlockConfig& c = cfg_;
  const int n = comm_->size();
  const Z Ll = local_len(), T = c.B * Ll, d = c.d, Dh = c.head_dim(), H = c.H, G = c.G, i = c.ffn;
  const Z hq = H / n, hk = detail::heads_per_rank(G, n);
  if (zero3_) zero3_->gather(w_flat_, w_);
  std::copy_n(x.data(), T * d, x_.data());
  std::vector<float> q(T * H * Dh), k(T * G * Dh), v(T * G * Dh);
  {
    Array2 u(uninit("u1"), T, d);  // not saved: backward recomputes it from x_
    rmsnorm_forward(u, rstd1_, x_, w_.attn_norm);
    linear_forward(Span2<float>(q.data(), T, H * Dh), Mat<const float>(u), w_.wq);
    linear_forward(Span2<float>(k.data(), T, G * Dh), Mat<const float>(u), w_.wk);
    linear_forward(Span2<float>(v.data(), T, G * Dh), Mat<const float>(u), w_.wv);
  }
  const Span1<const Pos> lpos(pos_.data(), Ll);
  const Span4<float> q4(q.data(), c.B, Ll, H, Dh), k4(k.data(), c.B, Ll, G, Dh);
  rope_forward(q4, q4, lpos);
  rope_forward(k4, k4, lpos);
  // The three all-to-alls in flight together (distinct tags); each source is dead once
  // packed into its send buffer.
  qh_.resize(c.B * c.L * hq * Dh);
  kh_.resize(c.B * c.L * hk * Dh);
  vh_.resize(c.B * c.L * hk * Dh);
  with_wire(c, [&](auto wire) {
    using W = decltype(wire);
    std::vector<W> sq, rq, sk, rk, sv, rv;
    auto wq = post_seq_to_head(*comm_, q.data(), qh_.data(), sq, rq, c.B, Ll, H, Dh, 0);
    release(q);
    auto wk = post_seq_to_head(*comm_, k.data(), kh_.data(), sk, rk, c.B, Ll, G, Dh, 1);
    release(k);
    auto wv = post_seq_to_head(*comm_, v.data(), vh_.data(), sv, rv, c.B, Ll, G, Dh, 2);
    release(v);
    finish_seq_to_head(wq, qh_.data(), sq, rq, n, c.B, Ll, H, Dh);
    finish_seq_to_head(wk, kh_.data(), sk, rk, n, c.B, Ll, G, Dh);
    finish_seq_to_head(wv, vh_.data(), sv, rv, n, c.B, Ll, G, Dh);
  });
  oh_.resize(qh_.size());
  lse_.resize(c.B * hq * c.L);
  kernels::AttentionOptions opt;
  opt.causal = c.causal;
  const kernels::AttentionShape shape{c.B, c.L, c.L, hq, hk, Dh};
  kernels::attention_forward<float, float>(oh_.data(), lse_.data(), qh_.data(), kh_.data(), vh_.data(),
                                           pos_full_.data(), pos_full_.data(), shape, opt);
  round_activations(oh_.data(), oh_.size());  // stored (and sent) as an activation
  o_ = Array2(uninit("o"), T, H * Dh);
  with_wire(c, [&](auto wire) {
    std::vector<decltype(wire)> so, ro;
    auto wo = post_head_to_seq(*comm_, oh_.data(), so, ro, c.B, Ll, H, Dh, 0);
    finish_head_to_seq(wo, o_.data(), so, ro, n, c.B, Ll, H, Dh, false);
  });
  h_ = Array2(uninit("h"), T, d);
  std::copy_n(x_.data(), T * d, h_.data());
  linear_forward(Mat<float>(h_), Mat<const float>(o_), w_.wo, Accum::kAdd);
  gate_ = Array2(uninit("gate"), T, i);
  up_ = Array2(uninit("up"), T, i);
  detail::mlp_up_forward(gate_.data(), up_.data(), rstd2_.data(), h_.data(), T, d, i, w_.mlp_norm,
                         Mat<const float>(w_.w_gate), Mat<const float>(w_.w_up));
  std::copy_n(h_.data(), T * d, y.data());
  detail::mlp_down_forward(Mat<float>(Span2<float>(y.data(), T, d)), gate_.data(), up_.data(), T, i,
                           Mat<const float>(w_.w_down), Accum::kAdd);
  if (zero3_) {  // only the shard persists
    w_ = BlockWeights();
    release(w_flat_);
  }
}

void Ulysses::do_backward(Span3<float> dx, Span3<const float> dy) {
  const BlockConfig& c = cfg_;
  const int n = comm_->size();
  const Z Ll = local_len(), T = c.B * Ll, d = c.d, Dh = c.head_dim(), H = c.H, G = c.G, i = c.ffn;
  const Z hq = H / n, hk = detail::heads_per_rank(G, n);
  if (zero3_) {  // gathered again for backward; full gradients only for this pass
    zero3_->gather(w_flat_, w_);
    grad_flat_.assign(Zero3Weights::padded_count(c, n), 0.f);
    Zero3Weights::view_packed(g_, c, grad_flat_.data());
  }
  const Span2<float> dh(dx.data(), T, d);
  const Span2<const float> dy2(dy.data(), T, d);
  std::copy_n(dy.data(), T * d, dx.data());
  // MLP branch (local tokens, row blocks, chunked_mlp.hpp): dgate, dup overwrite the saved
  // gate, up; dh += its input gradient.
  detail::mlp_down_backward(Mat<float>(g_.dw_down), gate_.data(), up_.data(), T, i, Mat<const float>(dy2),
                            Mat<const float>(w_.w_down));
  detail::mlp_up_backward(dh.data(), Mat<float>(g_.dw_gate), Mat<float>(g_.dw_up), g_.dmlp_norm, gate_.data(),
                          up_.data(), h_.data(), rstd2_.data(), T, d, i, w_.mlp_norm, Mat<const float>(w_.w_gate),
                          Mat<const float>(w_.w_up));
  gate_ = Array2();
  up_ = Array2();
  h_ = Array2();
  // Attention output projection, then dout to head-sharded.
  std::vector<float> doh(qh_.size());
  with_wire(c, [&](auto wire) {
    std::vector<float> dO(T * H * Dh);
    std::vector<decltype(wire)> s, r;
    linear_backward(Mat<float>(Span2<float>(dO.data(), T, H * Dh)), Mat<float>(g_.dwo), Mat<const float>(dh),
                    Mat<const float>(o_), w_.wo);
    o_ = Array2();
    auto w = post_seq_to_head(*comm_, dO.data(), doh.data(), s, r, c.B, Ll, H, Dh, 0);
    release(dO);
    finish_seq_to_head(w, doh.data(), s, r, n, c.B, Ll, H, Dh);
  });
  std::vector<float> dqh(qh_.size()), dkh(kh_.size()), dvh(vh_.size());
  kernels::AttentionOptions opt;
  opt.causal = c.causal;
  const kernels::AttentionShape shape{c.B, c.L, c.L, hq, hk, Dh};
  kernels::attention_backward<float, float>(dqh.data(), dkh.data(), dvh.data(), doh.data(), qh_.data(),
                                            kh_.data(), vh_.data(), oh_.data(), lse_.data(), pos_full_.data(),
                                            pos_full_.data(), shape, opt);
  release(doh);
  release(qh_);
  release(kh_);
  release(vh_);
  release(oh_);
  release(lse_);
  // The kernel's fp32 gradients become activation gradients (bf16 under bf16, as in Block).
  round_activations(dqh.data(), dqh.size());
  round_activations(dkh.data(), dkh.size());
  round_activations(dvh.data(), dvh.size());
  std::vector<float> dq(T * H * Dh), dk(T * G * Dh, 0.f), dv(T * G * Dh, 0.f);
  with_wire(c, [&](auto wire) {
    std::vector<decltype(wire)> s1, r1, s2, r2, s3, r3;
    auto wq = post_head_to_seq(*comm_, dqh.data(), s1, r1, c.B, Ll, H, Dh, 0);
    auto wk = post_head_to_seq(*comm_, dkh.data(), s2, r2, c.B, Ll, G, Dh, 1);
    auto wv = post_head_to_seq(*comm_, dvh.data(), s3, r3, c.B, Ll, G, Dh, 2);
    finish_head_to_seq(wq, dq.data(), s1, r1, n, c.B, Ll, H, Dh, false);
    release(dqh);  // (the send buffer of its exchange when B = 1: only now dead)
    finish_head_to_seq(wk, dk.data(), s2, r2, n, c.B, Ll, G, Dh, true);
    release(dkh);
    finish_head_to_seq(wv, dv.data(), s3, r3, n, c.B, Ll, G, Dh, true);
    release(dvh);
  });
  const Span1<const Pos> lpos(pos_.data(), Ll);
  const Span4<float> dq4(dq.data(), c.B, Ll, H, Dh), dk4(dk.data(), c.B, Ll, G, Dh);
  rope_backward(dq4, dq4, lpos);
  rope_backward(dk4, dk4, lpos);
  std::vector<float> du(T * d);
  const Mat<float> du_a(Span2<float>(du.data(), T, d));
  {
    Array2 u(uninit("u1"), T, d);
    rmsnorm_forward(u, Span1<float>(), x_, w_.attn_norm);  // as forward computed it
    linear_backward(du_a, Mat<float>(g_.dwq), Mat<const float>(Span2<const float>(dq.data(), T, H * Dh)),
                    Mat<const float>(u), w_.wq);
    release(dq);
    linear_backward(du_a, Mat<float>(g_.dwk), Mat<const float>(Span2<const float>(dk.data(), T, G * Dh)),
                    Mat<const float>(u), w_.wk, Accum::kAdd);
    release(dk);
    linear_backward(du_a, Mat<float>(g_.dwv), Mat<const float>(Span2<const float>(dv.data(), T, G * Dh)),
                    Mat<const float>(u), w_.wv, Accum::kAdd);
    release(dv);
  }
  rmsnorm_backward(dh, g_.dattn_norm, Span2<const float>(du.data(), T, d), x_, w_.attn_norm, rstd1_, Accum::kAdd,
                   Accum::kOverwrite);
  release(du);
  if (zero3_) {  // full gradients -> this rank's shard of their sum
    zero3_->reduce_grads(grad_flat_);
    g_ = BlockGrads();
    w_ = BlockWeights();
    release(grad_flat_);
    release(w_flat_);
    return;
  }
  // Replicated weights: sum the nine gradients over the group, one all-reduce in place.
  comm_->all_reduce(comm::cbuf(grad_flat_), comm::buf(grad_flat_), comm::ReduceOp::sum);
}

void Ulysses::gather_grads(const BlockGrads& full) {
  if (zero3_) return zero3_->gather_grads(full);
  detail::copy_grads(g_, full);
}

namespace {
// Expected peak memory per rank (Cost::peak_bytes, strategies/README.md): the constructor,
// set_weights, the first forward and a backward above, allocation by allocation.
std::uint64_t ulysses_peak(const BlockConfig& c, int n, WeightMode mode) {
  using F = MemoryWalk;
  MemoryWalk m;
  const Z Ll = c.L / n, T = c.B * Ll, d = c.d, Dh = c.head_dim(), H = c.H, G = c.G, i = c.ffn;
  const Z hq = H / n, hk = detail::heads_per_rank(G, n);
  const Z nq = T * H * Dh, nkv = T * G * Dh;           // local q (o, dq, dO) and k (v, dk, dv)
  const Z nqh = c.B * c.L * hq * Dh, nkh = c.B * c.L * hk * Dh;  // head-sharded q and k (= the exchanges' sizes)
  const Z nlse = c.B * hq * c.L;
  const bool z3 = mode == WeightMode::zero3;
  // Exchange buffers (wire type): send and receive, or one of them when a float wire with
  // B = 1 receives / sends in place.
  const std::uint64_t wire = detail::wire_size(c) * ((!detail::bf16_wire(c) && c.B == 1) ? 1 : 2);
  const kernels::AttentionShape shape{c.B, c.L, c.L, hq, hk, Dh};
  // Constructor: positions, weights and packed gradients (or ZeRO-3 shards), x_, rstd1_, rstd2_, pos_full_.
  m.alloc(Ll * sizeof(Pos));
  if (z3)
    Zero3Weights::walk_construct(m, c, n);
  else
    m.alloc(2 * Block::parameter_bytes(c));
  m.alloc(F::floats(T * d + 2 * T) + c.L * sizeof(Pos));
  if (z3) Zero3Weights::walk_load(m, c, n);
  // Forward.
  if (z3) Zero3Weights::walk_gather(m, c, n, true);
  m.alloc(F::floats(nq + 2 * nkv));  // q, k, v
  m.transient(F::floats(T * d));     // u
  m.alloc(F::floats(nqh + 2 * nkh)); // qh_, kh_, vh_
  m.alloc(nq * wire);                // q's exchange posted, then q freed
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
  m.transient(detail::mlp_up_forward_scratch_bytes(T, d, i));
  m.transient(detail::mlp_down_scratch_bytes(T, i));
  if (z3) m.release(Zero3Weights::gathered_bytes(c, n, true));
  // Backward.
  if (z3) {
    Zero3Weights::walk_gather(m, c, n, true);
    m.alloc(F::floats(Zero3Weights::padded_count(c, n)));  // grad_flat_
  }
  m.transient(detail::mlp_down_scratch_bytes(T, i));
  m.transient(detail::mlp_up_backward_scratch_bytes(T, d, i));
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
  return m.peak();  // (zero3 then frees grad_flat_ and the gathered weights)
}
}  // namespace

Cost Ulysses::cost(const BlockConfig& c, int n, int rank, WeightMode mode) {
  check(c, n);
  namespace tm = comm::traffic_model;
  const Z Ll = c.L / n, Dh = c.head_dim();
  const Z hk = detail::heads_per_rank(c.G, n);
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
  if (mode == WeightMode::zero3) {
    Zero3Weights::add_cost(cost, c, n);
    return cost;
  }
  const Z weights = 2 * c.d + (2 * c.H + 2 * c.G) * Dh * c.d + 3 * c.ffn * c.d;
  add_op(cost.backward, comm::OpKind::allreduce, tm::all_reduce(weights, 4, n, rank));
  return cost;
}

}  // namespace ody::strategies
