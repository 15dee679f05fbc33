#include "strategies/allgather_kv.hpp"

#include <cmath>

#include "kernels/attention.hpp"
#include "layers/documents.hpp"
#include "strategies/ring_attention.hpp"
#include "strategies/wire.hpp"

namespace ody::strategies {

using Z = std::int64_t;

namespace {

// The attention core of the header: per kv head, all-gather k/v, attend, (backward)
// reduce-scatter dk/dv. Two heads' buffers are live at a time (index j % 2).
class AllGatherKvAttention final : public AttentionCore {
 public:
  AllGatherKvAttention(comm::Communicator& comm, const BlockConfig& c, Z Lb,
                       std::vector<std::vector<Pos>> pos, bool balanced)
      : comm_(comm), c_(c), Lb_(Lb), pos_(std::move(pos)), balanced_(balanced && c.causal) {}
  void forward(float* o, float* lse, const float* q, const float* kv) override {
    detail::with_wire(c_, [&](auto w) { forward_impl<decltype(w)>(o, lse, q, kv); });
  }
  void backward(float* dq, float* dkv, const float* dout, const float* q, const float* kv,
                const float* o, const float* lse) override {
    detail::with_wire(c_,
                      [&](auto w) { backward_impl<decltype(w)>(dq, dkv, dout, q, kv, o, lse); });
  }

 private:
  Z nb() const { return c_.B * Lb_ * c_.head_dim(); }  // k (or v) rows of one head, one rank
  // kv head j of this rank's k, v [B, Lb, G, Dh] -> send [2, B, Lb, Dh] (wire type).
  template <class W>
  void pack(std::vector<W>& send, const float* kv, Z j) const {
    const Z Dh = c_.head_dim(), G = c_.G, rows = c_.B * Lb_;
    send.resize(2 * nb());
    for (int half = 0; half < 2; ++half)
      for (Z t = 0; t < rows; ++t)
        detail::convert_n(kv + half * rows * G * Dh + (t * G + j) * Dh, Dh,
                          send.data() + half * nb() + t * Dh);
  }
  template <class W>
  comm::WorkPtr gather(std::vector<W>& send, std::vector<W>& all, const float* kv, Z j) {
    pack(send, kv, j);
    all.resize(comm_.size() * send.size());
    return comm_.all_gather_async(comm::cbuf(send), comm::buf(all));
  }
  kernels::AttentionShape shape(const BlockPart& p) const {
    return {c_.B, p.lq, p.lk, c_.H / c_.G, 1, c_.head_dim()};
  }
  kernels::Strides sq() const {
    return {Lb_ * c_.H * c_.head_dim(), c_.H * c_.head_dim(), c_.head_dim()};
  }
  kernels::Strides skv() const { return {Lb_ * c_.head_dim(), c_.head_dim(), c_.head_dim()}; }
  kernels::LseStrides sl() const { return {c_.H * Lb_, Lb_}; }
  kernels::AttentionOptions options() const {
    kernels::AttentionOptions opt;
    opt.causal = c_.causal;
    layers::set_documents(opt, c_.doc_starts);
    opt.accumulate = true;
    return opt;
  }

  template <class W>
  void forward_impl(float* o, float* lse, const float* q_in, const float* kv) {
    const int n = comm_.size(), r = comm_.rank();
    const Z H = c_.H, Dh = c_.head_dim(), hg = H / c_.G;
    std::fill_n(o, c_.B * Lb_ * H * Dh, 0.f);
    std::fill_n(lse, c_.B * H * Lb_, -INFINITY);
    std::vector<W> send[2], all[2], qstore;
    const W* q = detail::wire_copy(q_in, c_.B * Lb_ * H * Dh, qstore);
    comm::WorkPtr work[2];
    work[0] = gather(send[0], all[0], kv, 0);
    for (Z j = 0; j < c_.G; ++j) {
      if (j + 1 < c_.G) work[(j + 1) % 2] = gather(send[(j + 1) % 2], all[(j + 1) % 2], kv, j + 1);
      work[j % 2]->wait();
      const W* g = all[j % 2].data();
      for (int src = 0; src < n; ++src) {
        const BlockPart p = block_part(src, r, Lb_, balanced_);
        const Z qo = p.q0 * H * Dh + j * hg * Dh, ko = src * 2 * nb() + p.k0 * Dh;
        kernels::attention_forward<W, float>(
            o + qo, lse + j * hg * Lb_ + p.q0, q + qo, g + ko, g + ko + nb(), pos_[r].data() + p.q0,
            pos_[src].data() + p.k0, shape(p), options(),
            kernels::ForwardLayout{sq(), skv(), skv(), sq(), sl()});
      }
    }
  }

  template <class W>
  void backward_impl(float* dq, float* dkv, const float* dout, const float* q_in, const float* kv,
                     const float* o, const float* lse) {
    const int n = comm_.size(), r = comm_.rank();
    const Z H = c_.H, G = c_.G, Dh = c_.head_dim(), hg = H / G, rows = c_.B * Lb_;
    std::fill_n(dq, rows * H * Dh, 0.f);
    std::vector<W> send[2], all[2], qstore;
    std::vector<float> acc[2], mine[2];  // full-sequence dk/dv of a head; this rank's share
    const W* q = detail::wire_copy(q_in, rows * H * Dh, qstore);
    comm::WorkPtr work[2], sum[2];
    // Head j's reduced dk/dv [2, B, Lb, Dh] -> dkv (dk then dv, [B, Lb, G, Dh]).
    auto unpack = [&](Z j) {
      sum[j % 2]->wait();
      for (int half = 0; half < 2; ++half)
        for (Z t = 0; t < rows; ++t)
          std::copy_n(mine[j % 2].data() + half * nb() + t * Dh, Dh,
                      dkv + half * rows * G * Dh + (t * G + j) * Dh);
    };
    work[0] = gather(send[0], all[0], kv, 0);
    for (Z j = 0; j < G; ++j) {
      if (j + 1 < G) work[(j + 1) % 2] = gather(send[(j + 1) % 2], all[(j + 1) % 2], kv, j + 1);
      work[j % 2]->wait();
      if (j >= 2) unpack(j - 2);  // frees acc[j % 2] and mine[j % 2] for head j
      const W* g = all[j % 2].data();
      std::vector<float>& a = acc[j % 2];
      a.assign(n * 2 * nb(), 0.f);
      for (int src = 0; src < n; ++src) {
        const BlockPart p = block_part(src, r, Lb_, balanced_);
        const Z qo = p.q0 * H * Dh + j * hg * Dh, ko = src * 2 * nb() + p.k0 * Dh;
        kernels::attention_backward<W, float>(
            dq + qo, a.data() + ko, a.data() + ko + nb(), dout + qo, q + qo, g + ko, g + ko + nb(),
            o + qo, lse + j * hg * Lb_ + p.q0, pos_[r].data() + p.q0, pos_[src].data() + p.k0,
            shape(p), options(),
            kernels::BackwardLayout{sq(), skv(), skv(), sq(), sq(), sq(), skv(), skv(), sl()});
      }
      mine[j % 2].resize(2 * nb());
      sum[j % 2] =
          comm_.reduce_scatter_async(comm::cbuf(a), comm::buf(mine[j % 2]), comm::ReduceOp::sum);
    }
    for (Z j = std::max<Z>(G - 2, 0); j < G; ++j) unpack(j);
  }

  comm::Communicator& comm_;
  BlockConfig c_;
  Z Lb_;
  std::vector<std::vector<Pos>> pos_;
  bool balanced_;
};

}  // namespace

void AllGatherKv::check(const BlockConfig& cfg, int n, TokenLayout layout) {
  check_block(cfg, n, layout, "allgather-kv: L");
}

AllGatherKv::AllGatherKv(const BlockConfig& cfg, comm::Communicator& comm, WeightMode mode)
    : AllGatherKv(cfg, comm, mode, layout_for(cfg)) {}

AllGatherKv::AllGatherKv(const BlockConfig& cfg, comm::Communicator& comm, WeightMode mode,
                         TokenLayout layout)
    : ContextParallel((check(cfg, comm.size(), layout), cfg), comm, nullptr,
                      check_mode(mode, "allgather-kv"), layout, "allgather-kv: L") {
  set_core(std::make_unique<AllGatherKvAttention>(
      comm, cfg, local_len(), all_positions(layout, cfg.L, comm.size(), cfg.doc_starts),
      layout == TokenLayout::zigzag));
}

}  // namespace ody::strategies
