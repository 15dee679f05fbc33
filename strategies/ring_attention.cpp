#include "strategies/ring_attention.hpp"

#include <cmath>

#include "base/error.hpp"
#include "kernels/attention.hpp"
#include "layers/documents.hpp"
#include "strategies/layout.hpp"
#include "strategies/wire.hpp"

namespace ody::strategies {

using Z = std::int64_t;

namespace {
constexpr comm::Tag kKvTag = 1, kAccTag = 2;
}

GroupRows group_rows(TokenLayout layout, Z L, int inner, int ring, bool balanced,
                     std::span<const Pos> docs) {
  const int n = inner * ring;
  const Z Ll = L / n, c = Ll / 2;
  GroupRows g;
  g.map.resize(inner * Ll);
  for (int s = 0; s < inner; ++s)
    for (Z j = 0; j < Ll; ++j)
      g.map[s * Ll + j] = !balanced ? s * Ll + j : j < c ? s * c + j : inner * c + s * c + (j - c);
  for (int rho = 0; rho < ring; ++rho) {
    std::vector<Pos> pos(inner * Ll);
    for (int s = 0; s < inner; ++s) {
      const auto lp = local_positions(layout, L, n, s + inner * rho, docs);
      for (Z j = 0; j < Ll; ++j) pos[g.map[s * Ll + j]] = lp[j];
    }
    if (balanced) {  // first half in ring chunk rho, second half in ring chunk 2R-1-rho
      const Z rc = L / (2 * ring), half = inner * c;
      for (Z k = 0; k < 2 * half; ++k) {
        const Z want = k < half ? rho : 2 * ring - 1 - rho;
        ODY_REQUIRE(pos[k] / rc == want, "group_rows: zigzag block",
                    "ring chunk " + std::to_string(want), "position ", pos[k], " in group ", rho);
      }
    }
    g.block_pos.push_back(std::move(pos));
  }
  return g;
}

RingAttention::RingAttention(comm::Communicator& ring, Shape shape, bool causal,
                             std::vector<std::vector<Pos>> block_pos, bool balanced,
                             std::vector<Pos> doc_starts)
    : ring_(&ring),
      sh_(shape),
      causal_(causal),
      balanced_(balanced && causal),
      block_pos_(std::move(block_pos)),
      doc_starts_(std::move(doc_starts)) {}

kernels::AttentionOptions RingAttention::options() const {
  kernels::AttentionOptions opt;
  opt.causal = causal_;
  opt.accumulate = true;  // merge into (o, lse); add into dq, dk, dv
  layers::set_documents(opt, doc_starts_);
  return opt;
}

template <class W>
void RingAttention::attend(float* o, float* lse, const W* q, const W* blk, int src) const {
  const Z B = sh_.B, Lb = sh_.Lb, hq = sh_.hq, hk = sh_.hk, Dh = sh_.Dh, nkv = B * Lb * hk * Dh;
  const kernels::Strides sq{Lb * hq * Dh, hq * Dh, Dh}, skv{Lb * hk * Dh, hk * Dh, Dh};
  const kernels::LseStrides sl{hq * Lb, Lb};
  const kernels::AttentionOptions opt = options();
  const BlockPart p = part(src);
  kernels::attention_forward<W, float>(
      o + p.q0 * hq * Dh, lse + p.q0, q + p.q0 * hq * Dh, blk + p.k0 * hk * Dh,
      blk + nkv + p.k0 * hk * Dh, block_pos_[ring_->rank()].data() + p.q0,
      block_pos_[src].data() + p.k0, kernels::AttentionShape{B, p.lq, p.lk, hq, hk, Dh}, opt,
      kernels::ForwardLayout{sq, skv, skv, sq, sl});
}

template <class W>
void RingAttention::attend_backward(float* dq, float* dkv, const float* dout, const W* q,
                                    const W* blk, const float* o, const float* lse, int src) const {
  const Z B = sh_.B, Lb = sh_.Lb, hq = sh_.hq, hk = sh_.hk, Dh = sh_.Dh, nkv = B * Lb * hk * Dh;
  const kernels::Strides sq{Lb * hq * Dh, hq * Dh, Dh}, skv{Lb * hk * Dh, hk * Dh, Dh};
  const kernels::LseStrides sl{hq * Lb, Lb};
  const kernels::AttentionOptions opt = options();
  const BlockPart p = part(src);
  const Z qo = p.q0 * hq * Dh, ko = p.k0 * hk * Dh;
  kernels::attention_backward<W, float>(
      dq + qo, dkv + ko, dkv + nkv + ko, dout + qo, q + qo, blk + ko, blk + nkv + ko, o + qo,
      lse + p.q0, block_pos_[ring_->rank()].data() + p.q0, block_pos_[src].data() + p.k0,
      kernels::AttentionShape{B, p.lq, p.lk, hq, hk, Dh}, opt,
      kernels::BackwardLayout{sq, skv, skv, sq, sq, sq, skv, skv, sl});
}

template void RingAttention::attend<float>(float*, float*, const float*, const float*, int) const;
template void RingAttention::attend<bf16>(float*, float*, const bf16*, const bf16*, int) const;
template void RingAttention::attend_backward<float>(float*, float*, const float*, const float*,
                                                    const float*, const float*, const float*,
                                                    int) const;
template void RingAttention::attend_backward<bf16>(float*, float*, const float*, const bf16*,
                                                   const bf16*, const float*, const float*,
                                                   int) const;

void RingAttention::forward(float* o, float* lse, const float* q, const float* kv) {
  if (sh_.bf16_wire) return forward_impl<bf16>(o, lse, q, kv);
  forward_impl<float>(o, lse, q, kv);
}

void RingAttention::backward(float* dq, float* dkv, const float* dout, const float* q,
                             const float* kv, const float* o, const float* lse) {
  if (sh_.bf16_wire) return backward_impl<bf16>(dq, dkv, dout, q, kv, o, lse);
  backward_impl<float>(dq, dkv, dout, q, kv, o, lse);
}

template <class W>
void RingAttention::forward_impl(float* o, float* lse, const float* q_in, const float* kv) {
  const int n = ring_->size(), r = ring_->rank();
  const Z B = sh_.B, Lb = sh_.Lb, hq = sh_.hq, hk = sh_.hk, Dh = sh_.Dh, nkv = B * Lb * hk * Dh;
  std::fill_n(o, B * Lb * hq * Dh, 0.f);
  std::fill_n(lse, B * hq * Lb, -INFINITY);
  std::vector<W> cur(2 * nkv), next(2 * nkv), qstore;
  detail::convert_n(kv, 2 * nkv, cur.data());
  const W* q = detail::wire_copy(q_in, B * Lb * hq * Dh, qstore);
  for (int s = 0; s < n; ++s) {
    const int src = ring_source(r, s, n);
    comm::WorkPtr work;
    if (s + 1 < n) {  // post the next exchange before computing on the current block
      const comm::P2POp ops[2] = {comm::P2POp::isend(comm::cbuf(cur), ring_next(r, n), kKvTag),
                                  comm::P2POp::irecv(comm::buf(next), ring_prev(r, n), kKvTag)};
      work = ring_->batch_p2p_async(ops);
    }
    attend(o, lse, q, cur.data(), src);
    if (work) {
      work->wait();
      cur.swap(next);
    }
  }
}

template <class W>
void RingAttention::backward_impl(float* dq, float* dkv, const float* dout, const float* q_in,
                                  const float* kv, const float* o, const float* lse) {
  const int n = ring_->size(), r = ring_->rank();
  const Z B = sh_.B, Lb = sh_.Lb, hq = sh_.hq, hk = sh_.hk, Dh = sh_.Dh, nkv = B * Lb * hk * Dh;
  // The two rings: k/v (R-1 hops) and the fp32 dk/dv accumulators (R hops, back home).
  std::fill_n(dq, B * Lb * hq * Dh, 0.f);
  std::vector<W> cur(2 * nkv), next(2 * nkv), qstore;
  detail::convert_n(kv, 2 * nkv, cur.data());
  const W* q = detail::wire_copy(q_in, B * Lb * hq * Dh, qstore);
  std::vector<float> acc(2 * nkv, 0.f), acc_next(2 * nkv);
  for (int s = 0; s < n; ++s) {
    const int src = ring_source(r, s, n);
    comm::WorkPtr work;
    if (s + 1 < n) {
      const comm::P2POp ops[2] = {comm::P2POp::isend(comm::cbuf(cur), ring_next(r, n), kKvTag),
                                  comm::P2POp::irecv(comm::buf(next), ring_prev(r, n), kKvTag)};
      work = ring_->batch_p2p_async(ops);
    }
    attend_backward(dq, acc.data(), dout, q, cur.data(), o, lse, src);
    if (n > 1) {  // the accumulator moves on with its block (the last hop returns it home)
      const comm::P2POp ops[2] = {
          comm::P2POp::isend(comm::cbuf(acc), ring_next(r, n), kAccTag),
          comm::P2POp::irecv(comm::buf(acc_next), ring_prev(r, n), kAccTag)};
      ring_->batch_p2p_async(ops)->wait();
      acc.swap(acc_next);
    }
    if (work) {
      work->wait();
      cur.swap(next);
    }
  }
  std::copy(acc.begin(), acc.end(), dkv);  // dk, dv of this rank's own rows
}

}  // namespace ody::strategies
