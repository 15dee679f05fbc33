#include "strategies/double_ring.hpp"

#include <cmath>

#include "base/error.hpp"
#include "strategies/ring_attention.hpp"
#include "strategies/wire.hpp"

namespace ody::strategies {

using Z = std::int64_t;

namespace {

constexpr comm::Tag kInnerKv = 1, kOuterKv = 2, kInnerAcc = 3, kOuterAcc = 4, kHomeAcc = 5;

// The schedule of the header over RingAttention's per-block steps. Ring rank m = p + w·j
// (p: position in the window = the inner rank, j: the window = the outer rank).
class DoubleRingAttention final : public AttentionCore {
 public:
  DoubleRingAttention(comm::Communicator& world, comm::Communicator& inner,
                      comm::Communicator& outer, RingAttention::Shape shape, bool causal,
                      std::vector<std::vector<Pos>> block_pos, bool balanced,
                      std::vector<Pos> doc_starts)
      : world_(world),
        inner_(inner),
        outer_(outer),
        sh_(shape),
        blocks_(world, shape, causal, std::move(block_pos), balanced, std::move(doc_starts)) {}
  void forward(float* o, float* lse, const float* q, const float* kv) override {
    detail::with_wire(sh_.bf16_wire, [&](auto w) { forward_impl<decltype(w)>(o, lse, q, kv); });
  }
  void backward(float* dq, float* dkv, const float* dout, const float* q, const float* kv,
                const float* o, const float* lse) override {
    detail::with_wire(sh_.bf16_wire,
                      [&](auto w) { backward_impl<decltype(w)>(dq, dkv, dout, q, kv, o, lse); });
  }

 private:
  int w() const { return inner_.size(); }
  int nw() const { return outer_.size(); }
  Z nkv() const { return sh_.B * sh_.Lb * sh_.hk * sh_.Dh; }
  // The ring rank whose block this rank holds at step t of round k.
  int source(int k, int t) const {
    const int j = (outer_.rank() - k % nw() + nw()) % nw(), p = (inner_.rank() - t + w()) % w();
    return p + w() * j;
  }
  // send `out` to the next rank of `c` and receive from the previous one.
  template <class A, class B>
  static comm::WorkPtr shift(comm::Communicator& c, const A& out, B& in, comm::Tag tag) {
    const int r = c.rank(), n = c.size();
    const comm::P2POp ops[2] = {comm::P2POp::isend(comm::cbuf(out), ring_next(r, n), tag),
                                comm::P2POp::irecv(comm::buf(in), ring_prev(r, n), tag)};
    return c.batch_p2p_async(ops);
  }

  // Round k's blocks: start (the round's first, forwarded over the outer ring meanwhile),
  // then the inner ring's; calls step(t, block) for t = 0..w-1 with the block held.
  template <class W, class Step>
  void rounds(const float* kv, Step&& step) {
    std::vector<W> start(2 * nkv()), next_start(2 * nkv()), in[2];
    detail::convert_n(kv, 2 * nkv(), start.data());
    for (int k = 0; k < nw(); ++k) {
      comm::WorkPtr outer;
      if (k + 1 < nw()) outer = shift(outer_, start, next_start, kOuterKv);
      const std::vector<W>* cur = &start;
      for (int t = 0; t < w(); ++t) {
        comm::WorkPtr inner;
        if (t + 1 < w()) {
          in[t % 2].resize(2 * nkv());
          inner = shift(inner_, *cur, in[t % 2], kInnerKv);
        }
        step(k, t, cur->data());
        if (inner) {
          inner->wait();
          cur = &in[t % 2];
        }
      }
      if (outer) {
        outer->wait();
        start.swap(next_start);
      }
    }
  }

  template <class W>
  void forward_impl(float* o, float* lse, const float* q_in, const float* kv) {
    std::fill_n(o, sh_.B * sh_.Lb * sh_.hq * sh_.Dh, 0.f);
    std::fill_n(lse, sh_.B * sh_.hq * sh_.Lb, -INFINITY);
    std::vector<W> qstore;
    const W* q = detail::wire_copy(q_in, sh_.B * sh_.Lb * sh_.hq * sh_.Dh, qstore);
    rounds<W>(kv,
              [&](int k, int t, const W* blk) { blocks_.attend(o, lse, q, blk, source(k, t)); });
  }

  template <class W>
  void backward_impl(float* dq, float* dkv, const float* dout, const float* q_in, const float* kv,
                     const float* o, const float* lse) {
    std::fill_n(dq, sh_.B * sh_.Lb * sh_.hq * sh_.Dh, 0.f);
    std::vector<W> qstore;
    const W* q = detail::wire_copy(q_in, sh_.B * sh_.Lb * sh_.hq * sh_.Dh, qstore);
    const Z n2 = 2 * nkv();
    // acc: the held block's accumulator; early: what earlier windows summed for the block
    // held at a round's last step (received during the round); late: the sum posted on.
    std::vector<float> acc(n2), acc_in(n2), early(n2), late(n2);
    comm::WorkPtr outer_acc;
    rounds<W>(kv, [&](int k, int t, const W* blk) {
      if (t == 0) std::fill(acc.begin(), acc.end(), 0.f);
      if (t + 1 == w() && outer_acc) {  // the block's sum from earlier rounds
        outer_acc->wait();
        outer_acc.reset();
        for (Z e = 0; e < n2; ++e) acc[e] += early[e];
      }
      blocks_.attend_backward(dq, acc.data(), dout, q, blk, o, lse, source(k, t));
      if (t + 1 < w()) {  // on round the window with its block
        shift(inner_, acc, acc_in, kInnerAcc)->wait();
        acc.swap(acc_in);
      } else if (k + 1 < nw()) {  // to the next window, where this block ends next round
        late.swap(acc);
        outer_acc = shift(outer_, late, early, kOuterAcc);
      } else if (world_.size() > 1) {  // home: the block's owner
        // It holds the block of (p+1, j+1); its own is with (p-1, j-1).
        const int p = inner_.rank(), j = outer_.rank();
        const int owner = source(k, t), from = (p - 1 + w()) % w() + w() * ((j - 1 + nw()) % nw());
        const comm::P2POp ops[2] = {comm::P2POp::isend(comm::cbuf(acc), owner, kHomeAcc),
                                    comm::P2POp::irecv(comm::buf(dkv, n2), from, kHomeAcc)};
        world_.batch_p2p_async(ops)->wait();
      } else {
        std::copy(acc.begin(), acc.end(), dkv);
      }
    });
  }

  comm::Communicator &world_, &inner_, &outer_;
  RingAttention::Shape sh_;
  RingAttention blocks_;
};

}  // namespace

void DoubleRing::check(const BlockConfig& cfg, int n, int window, TokenLayout layout) {
  std::string divisors;
  for (int w = 1; w <= n; ++w)
    if (n % w == 0) divisors += (divisors.empty() ? "" : ", ") + std::to_string(w);
  ODY_REQUIRE(window >= 1 && n % window == 0, "double-ring: window",
              "a divisor of N = " + std::to_string(n) + " (inner=w,outer=N/w): one of " + divisors,
              window);
  check_block(cfg, n, layout, "double-ring: L");
}

DoubleRing::DoubleRing(const BlockConfig& cfg, comm::Communicator& world, int window,
                       WeightMode mode, std::optional<TokenLayout> lay,
                       const std::vector<int>& placement, const std::vector<int>& node_of_rank,
                       const std::map<std::string, std::string>& backend_of)
    : ContextParallel((check(cfg, world.size(), window, lay.value_or(layout_for(cfg))), cfg), world,
                      ordered_world(world, placement), check_mode(mode, "double-ring"),
                      lay.value_or(layout_for(cfg)), "double-ring: L"),
      window_(window) {
  const int n = comm_->size();
  // comm_ is ordered by logical index (ring rank m = p + w·j), so the mesh needs no
  // placement of its own; its node map is by logical index.
  mesh_ = std::make_unique<Mesh>(
      *comm_, std::vector<MeshDim>{{"inner", window}, {"outer", n / window}}, std::vector<int>{},
      node_of_index(node_of_rank, placement), dims_on_backends(backend_of, *comm_));
  comm::Communicator &inner = mesh_->comm("inner"), &outer = mesh_->comm("outer");
  extra_comms_ = {&inner, &outer};
  set_core(std::make_unique<DoubleRingAttention>(
      *comm_, inner, outer,
      RingAttention::Shape{cfg.B, local_len(), cfg.H, cfg.G, cfg.head_dim(),
                           detail::bf16_wire(cfg)},
      cfg.causal, all_positions(layout(), cfg.L, n, cfg.doc_starts),
      layout() == TokenLayout::zigzag, cfg.doc_starts));
}

DoubleRing::~DoubleRing() = default;

}  // namespace ody::strategies
