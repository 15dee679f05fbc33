#include "strategies/token_ring.hpp"

#include <cmath>

#include "kernels/attention.hpp"
#include "kernels/attention_merge.hpp"
#include "layers/documents.hpp"
#include "strategies/ring_attention.hpp"
#include "strategies/wire.hpp"

namespace ody::strategies {

using Z = std::int64_t;

namespace {

constexpr comm::Tag kQTag = 1, kPartialTag = 2, kQSideTag = 3;

// The attention core of the header. Buffers indexed by step parity (s % 2): the queries
// of step s arrive while step s-1 computes; the partials of step s travel during step s+1.
class TokenRingAttention final : public AttentionCore {
 public:
  TokenRingAttention(comm::Communicator& comm, const BlockConfig& c, Z Lb,
                     std::vector<std::vector<Pos>> pos, bool balanced)
      : comm_(comm),
        c_(c),
        Lb_(Lb),
        nq_(c.B * Lb * c.H * c.head_dim()),
        nl_(c.B * c.H * Lb),
        nkv_(c.B * Lb * c.G * c.head_dim()),
        pos_(std::move(pos)),
        balanced_(balanced && c.causal) {}
  void forward(float* o, float* lse, const float* q, const float* kv) override {
    detail::with_wire(c_, [&](auto w) { forward_impl<decltype(w)>(o, lse, q, kv); });
  }
  void backward(float* dq, float* dkv, const float* dout, const float* q, const float* kv,
                const float* o, const float* lse) override {
    detail::with_wire(c_,
                      [&](auto w) { backward_impl<decltype(w)>(dq, dkv, dout, q, kv, o, lse); });
  }

 private:
  int to(int s) const { return (comm_.rank() + s) % comm_.size(); }
  int from(int s) const { return (comm_.rank() - s + comm_.size()) % comm_.size(); }
  kernels::Strides sq() const {
    return {Lb_ * c_.H * c_.head_dim(), c_.H * c_.head_dim(), c_.head_dim()};
  }
  kernels::Strides skv() const {
    return {Lb_ * c_.G * c_.head_dim(), c_.G * c_.head_dim(), c_.head_dim()};
  }
  kernels::LseStrides sl() const { return {c_.H * Lb_, Lb_}; }
  kernels::AttentionOptions options() const {
    kernels::AttentionOptions opt;
    opt.causal = c_.causal;
    layers::set_documents(opt, c_.doc_starts);
    opt.accumulate = true;
    return opt;
  }
  // The rows of the queries of rank `owner` against this rank's k/v.
  BlockPart part(int owner) const { return block_part(comm_.rank(), owner, Lb_, balanced_); }

  // Attention of the queries of rank `owner` (q, into o, lse) against this rank's k/v.
  template <class W>
  void attend(float* o, float* lse, const W* q, const W* kv, int owner) const {
    const BlockPart p = part(owner);
    const Z hq = c_.H * c_.head_dim(), hk = c_.G * c_.head_dim();
    kernels::attention_forward<W, float>(
        o + p.q0 * hq, lse + p.q0, q + p.q0 * hq, kv + p.k0 * hk, kv + nkv_ + p.k0 * hk,
        pos_[owner].data() + p.q0, pos_[comm_.rank()].data() + p.k0,
        kernels::AttentionShape{c_.B, p.lq, p.lk, c_.H, c_.G, c_.head_dim()}, options(),
        kernels::ForwardLayout{sq(), skv(), skv(), sq(), sl()});
  }
  // Its backward: dq of those queries, dk/dv of this rank's rows (both added to).
  template <class W>
  void attend_backward(float* dq, float* dkv, const float* dout, const W* q, const W* kv,
                       const float* o, const float* lse, int owner) const {
    const BlockPart p = part(owner);
    const Z hq = c_.H * c_.head_dim(), hk = c_.G * c_.head_dim();
    kernels::attention_backward<W, float>(
        dq + p.q0 * hq, dkv + p.k0 * hk, dkv + nkv_ + p.k0 * hk, dout + p.q0 * hq, q + p.q0 * hq,
        kv + p.k0 * hk, kv + nkv_ + p.k0 * hk, o + p.q0 * hq, lse + p.q0, pos_[owner].data() + p.q0,
        pos_[comm_.rank()].data() + p.k0,
        kernels::AttentionShape{c_.B, p.lq, p.lk, c_.H, c_.G, c_.head_dim()}, options(),
        kernels::BackwardLayout{sq(), skv(), skv(), sq(), sq(), sq(), skv(), skv(), sl()});
  }
  // Posts the exchange of step s: `out` to rank r+s... or back: `dir` = +1 sends to
  // to(s) and receives from from(s); -1 the reverse.
  template <class A, class B>
  comm::WorkPtr exchange(const A& send, B& recv, int s, int dir, comm::Tag tag) {
    const int dst = dir > 0 ? to(s) : from(s), src = dir > 0 ? from(s) : to(s);
    const comm::P2POp ops[2] = {comm::P2POp::isend(comm::cbuf(send), dst, tag),
                                comm::P2POp::irecv(comm::buf(recv), src, tag)};
    return comm_.batch_p2p_async(ops);
  }

  template <class W>
  void forward_impl(float* o, float* lse, const float* q_in, const float* kv_in) {
    const int n = comm_.size();
    std::fill_n(o, nq_, 0.f);
    std::fill_n(lse, nl_, -INFINITY);
    std::vector<W> qstore, kvstore, qin[2];
    std::vector<float> part[2], pin[2];  // partials: out [nq] then lse [nl]
    const W* q = detail::wire_copy(q_in, nq_, qstore);
    const W* kv = detail::wire_copy(kv_in, 2 * nkv_, kvstore);
    comm::WorkPtr qx[2], px[2];
    if (n > 1) {
      for (int b = 0; b < 2; ++b) {
        qin[b].resize(nq_);
        part[b].resize(nq_ + nl_);
        pin[b].resize(nq_ + nl_);
      }
      qx[1] = exchange(std::span<const W>(q, nq_), qin[1], 1, +1, kQTag);
    }
    attend(o, lse, q, kv, comm_.rank());  // step 0: own queries, own keys
    const kernels::AttentionShape merge_shape{c_.B, Lb_, Lb_, c_.H, c_.G, c_.head_dim()};
    auto merge = [&](int s) {
      px[s % 2]->wait();
      const std::vector<float>& p = pin[s % 2];
      kernels::attention_merge(o, lse, p.data(), p.data() + nq_, merge_shape);
    };
    for (int s = 1; s < n; ++s) {
      qx[s % 2]->wait();
      if (s + 1 < n)
        qx[(s + 1) % 2] = exchange(std::span<const W>(q, nq_), qin[(s + 1) % 2], s + 1, +1, kQTag);
      std::vector<float>& p = part[s % 2];
      std::fill_n(p.data(), nq_, 0.f);
      std::fill_n(p.data() + nq_, nl_, -INFINITY);
      attend(p.data(), p.data() + nq_, qin[s % 2].data(), kv, from(s));
      px[s % 2] = exchange(p, pin[s % 2], s, -1, kPartialTag);  // back to the owner
      if (s > 1) merge(s - 1);
    }
    if (n > 1) merge(n - 1);
  }

  template <class W>
  void backward_impl(float* dq, float* dkv, const float* dout, const float* q_in,
                     const float* kv_in, const float* o, const float* lse) {
    const int n = comm_.size();
    std::fill_n(dq, nq_, 0.f);
    std::fill_n(dkv, 2 * nkv_, 0.f);
    std::vector<W> qstore, kvstore, qin[2];
    std::vector<float> side, sin[2], dqp[2], dqin[2];  // q-side: dout [nq], out [nq], lse [nl]
    const W* q = detail::wire_copy(q_in, nq_, qstore);
    const W* kv = detail::wire_copy(kv_in, 2 * nkv_, kvstore);
    comm::WorkPtr qx[2], sx[2], dx[2];
    auto post = [&](int s) {  // the q-side tensors of step s
      qx[s % 2] = exchange(std::span<const W>(q, nq_), qin[s % 2], s, +1, kQTag);
      sx[s % 2] = exchange(side, sin[s % 2], s, +1, kQSideTag);
    };
    if (n > 1) {
      side.resize(2 * nq_ + nl_);
      std::copy_n(dout, nq_, side.data());
      std::copy_n(o, nq_, side.data() + nq_);
      std::copy_n(lse, nl_, side.data() + 2 * nq_);
      for (int b = 0; b < 2; ++b) {
        qin[b].resize(nq_);
        sin[b].resize(2 * nq_ + nl_);
        dqp[b].resize(nq_);
        dqin[b].resize(nq_);
      }
      post(1);
    }
    attend_backward(dq, dkv, dout, q, kv, o, lse, comm_.rank());
    auto add = [&](int s) {
      dx[s % 2]->wait();
      const float* p = dqin[s % 2].data();
      for (Z e = 0; e < nq_; ++e) dq[e] += p[e];
    };
    for (int s = 1; s < n; ++s) {
      qx[s % 2]->wait();
      sx[s % 2]->wait();
      if (s + 1 < n) post(s + 1);
      const float* in = sin[s % 2].data();
      std::fill(dqp[s % 2].begin(), dqp[s % 2].end(), 0.f);
      attend_backward(dqp[s % 2].data(), dkv, in, qin[s % 2].data(), kv, in + nq_, in + 2 * nq_,
                      from(s));
      dx[s % 2] = exchange(dqp[s % 2], dqin[s % 2], s, -1, kPartialTag);
      if (s > 1) add(s - 1);
    }
    if (n > 1) add(n - 1);
  }

  comm::Communicator& comm_;
  BlockConfig c_;
  Z Lb_, nq_, nl_, nkv_;
  std::vector<std::vector<Pos>> pos_;
  bool balanced_;
};

}  // namespace

void TokenRing::check(const BlockConfig& cfg, int n, TokenLayout layout) {
  check_block(cfg, n, layout, "token-ring: L");
}

TokenRing::TokenRing(const BlockConfig& cfg, comm::Communicator& comm, WeightMode mode)
    : TokenRing(cfg, comm, mode, layout_for(cfg)) {}

TokenRing::TokenRing(const BlockConfig& cfg, comm::Communicator& comm, WeightMode mode,
                     TokenLayout layout)
    : ContextParallel((check(cfg, comm.size(), layout), cfg), comm, nullptr,
                      check_mode(mode, "token-ring"), layout, "token-ring: L") {
  set_core(std::make_unique<TokenRingAttention>(
      comm, cfg, local_len(), all_positions(layout, cfg.L, comm.size(), cfg.doc_starts),
      layout == TokenLayout::zigzag));
}

}  // namespace ody::strategies
