// Cost::peak_bytes, the strategies' expected peak memory per rank (strategies/README.md,
// "Expected peak memory"), and layers::Block::peak_bytes: consistency (monotone in L, the
// same on every rank, bf16 storage is fp32) and a hand count at one shape per strategy,
// written out here from the buffers live at the strategy's peak point. The measured check
// (ody-bench's VmHWM against the model) is tests/experiments (ody-bench.peak.*).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "kernels/attention.hpp"
#include "layers/block.hpp"
#include "strategies/factory.hpp"
#include "strategies/odysseus.hpp"
#include "strategies/odysseus_ring.hpp"
#include "strategies/ring.hpp"
#include "strategies/tpsp.hpp"
#include "strategies/ulysses.hpp"
#include "strategies/usp.hpp"

namespace ody::strategies {
namespace {

using U = std::uint64_t;
constexpr U kF = sizeof(float), kPos = sizeof(layers::Pos);

TEST(MemoryWalk, PeakIsTheLargestLiveTotal) {
  MemoryWalk m;
  m.alloc(100);
  m.transient(50);  // 150 at its height
  m.release(100);
  m.alloc(120);
  EXPECT_EQ(m.live(), 120u);
  EXPECT_EQ(m.peak(), 150u);
  m.alloc(40);
  EXPECT_EQ(m.peak(), 160u);
}

// The hand-count shape: n = 2, B = 1, L = 2048, d = 128, H = G = 4 (Dh = 32), i = 352, causal,
// f32. Per rank T = 1024 tokens; H·Dh = d, so a local q (o, dq, dO) is T·d floats, as is a
// local k or v; a [T, i] buffer is T·i. The chunked MLP's row block is min(T, 2^20 / i) = T
// rows (layers/row_blocked_mlp.hpp), so its scratch is T·d (up forward), 2·T·d (up backward), T·i
// (down).
struct Shape {
  BlockConfig c{1, 2048, 128, 4, 4, 352, true};
  int n = 2;
  U T = 1024, L = 2048, d = 128, i = 352, Dh = 32, H = 4;
  U Td = T * d, Ti = T * i, HT = H * T;      // floats
  U W = 2 * d + 4 * 4 * Dh * d + 3 * i * d;  // all weights: 2d + (2H + 2G)·Dh·d + 3·d·i
  U FW = 3 * i * d;                          // the three MLP weights
  U attn_shards(U tp) const { return (2 * H + 2 * H) / tp * Dh * d; }  // wq, wk, wv, wo shards
  std::size_t fwd_ws(U lq, U hq) const {
    return kernels::attention_forward_workspace_bytes<float>({1, std::int64_t(lq), std::int64_t(lq),
                                                              std::int64_t(hq), std::int64_t(hq),
                                                              std::int64_t(Dh)});
  }
  std::size_t bwd_ws(U lq, U hq) const {
    return kernels::attention_backward_workspace_bytes<float>({1, std::int64_t(lq),
                                                               std::int64_t(lq), std::int64_t(hq),
                                                               std::int64_t(hq), std::int64_t(Dh)});
  }
};

TEST(PeakMemory, BlockHandCount) {
  const Shape s;
  // Constructor: saved x, h, q, o, k, v, gate, up, rstd1, rstd2, lse, positions; workspace u,
  // du, big1, big2 ([T·max(i, H·Dh)] each), dk, dv. Here T = L = 2048 (one rank).
  const U T = s.L;
  const U saved =
      (2 * T * s.d + 2 * T * s.d + 2 * T * s.d + 2 * T * s.i + 2 * T + s.H * T) * kF + T * kPos;
  const U work = (2 * T * s.d + 2 * T * s.i + 2 * T * s.d) * kF;
  const U kernel = std::max(s.fwd_ws(T, s.H), s.bwd_ws(T, s.H));
  EXPECT_EQ(layers::Block::peak_bytes(s.c), saved + work + kernel);
  EXPECT_EQ(layers::Block::parameter_bytes(s.c), s.W * kF);
}

TEST(PeakMemory, RingHandCount) {
  const Shape s;
  // Peak: the ring backward. Live: positions (own L/N and every block's L), w_ and g_, x_,
  // u1_, h_, rstd1/2, forward's q_, kv_, o_, lse_, backward's du, dO, dq, acc, and the ring's
  // cur, next (k+v blocks) and two fp32 dk/dv accumulators, plus the kernel's scratch.
  const U persistent = (s.T + s.L) * kPos + 2 * s.W * kF + (3 * s.Td + 2 * s.T) * kF;
  const U saved = (s.Td + 2 * s.Td + s.Td + s.HT) * kF;
  const U locals = (s.Td + s.Td + s.Td + 2 * s.Td) * kF;
  const U ring = (2 * 2 * s.Td + 2 * 2 * s.Td) * kF;
  EXPECT_EQ(Ring::cost(s.c, s.n, 0).peak_bytes,
            persistent + saved + locals + ring + s.bwd_ws(s.T, s.H));
}

TEST(PeakMemory, UlyssesHandCount) {
  const Shape s;
  // Peak: forward's MLP down projection. Live: positions (L/N, L), weights and packed
  // gradients, x_, rstd1/2, the head-sharded qh_, kh_, vh_, oh_ ([B, L, H/N, Dh] = T·d each)
  // and lse_, o_, h_, gate_, up_, and one [rows = T, i] act block.
  const U persistent = (s.T + s.L) * kPos + 2 * s.W * kF + (s.Td + 2 * s.T) * kF;
  const U live = (4 * s.Td + s.HT + s.Td + s.Td + 2 * s.Ti + s.Ti) * kF;
  EXPECT_EQ(Ulysses::cost(s.c, s.n, 0).peak_bytes, persistent + live);
}

TEST(PeakMemory, TpSpHandCount) {
  const Shape s;
  // Peak: the attention backward after the MLP backward. Live: the attention half's norm,
  // shards and their gradients, x_, rstd_, positions; TP-SP's norm, MLP weight and gradient
  // shards ([i/N, d] x3 each), h_, u_full_ [L, d], gate_/up_ [L, i/N] (= T·i each), rstd_;
  // attention's saved u_full_ [L, d], q_, kv_, o_ (head-sharded: T·d, 2·T·d, T·d), lse_;
  // backward's dy_full, du_full [L, d], s1, s2 [L, i/N], du, dh [T, d]; the attention
  // backward's dO, dq, dkv (dh_full freed), and the kernel's scratch.
  const U is = s.i / 2;
  const U attn = (2 * s.d + 2 * s.attn_shards(2) + s.Td + s.T) * kF + s.L * kPos;
  const U tpsp = (2 * s.d + 3 * is * s.d + s.Td + 2 * s.Td + 2 * s.Ti + s.T + 3 * is * s.d) * kF;
  const U saved = (2 * s.Td + s.Td + 2 * s.Td + s.Td + s.HT) * kF;
  const U bwd = (2 * s.Td + 2 * s.Td + 2 * s.Ti + s.Td + s.Td) * kF;
  const U attn_bwd = (s.Td + s.Td + 2 * s.Td) * kF;
  EXPECT_EQ(TpSp::cost(s.c, s.n, 0).peak_bytes,
            s.T * kPos + attn + tpsp + saved + bwd + attn_bwd + s.bwd_ws(s.L, s.H / 2));
}

TEST(PeakMemory, OdysseusHandCount) {
  const Shape s;
  // Peak: the MLP backward's down projection. Live: positions, the attention half's
  // persistent state (as TP-SP), the ZeRO-3 MLP's norms, shards and gradient shards
  // (2·(2·i/N·d + d/N·i)) and rstd_; attention's saved tensors (6·T·d + lse), h_, gate_,
  // up_, one [T, i] act block, and the gathered w_gate, w_up, w_down plus the full dW_down.
  const U attn = (2 * s.d + 2 * s.attn_shards(2) + s.Td + s.T) * kF + s.L * kPos;
  const U mlp = (2 * s.d + 2 * s.FW / 2 + s.T) * kF;
  const U live = (6 * s.Td + s.HT + s.Td + 2 * s.Ti + s.Ti + s.FW + s.FW / 3) * kF;
  EXPECT_EQ(Odysseus::cost(s.c, s.n, 0).peak_bytes, s.T * kPos + attn + mlp + live);
}

TEST(PeakMemory, UspHandCount) {
  const Shape s;  // mesh ulysses=2,ring=1: the group block is Lb = 2·T rows of H/2 heads
  // Peak: the ring backward. Live: positions, group rows and the block's positions, w_, g_,
  // x_, u1_, h_, u2_, gate_, up_, o_, rstd1/2; the three all-to-all send/receive pairs
  // (q: T·d, k, v: T·d each, kept), qh_, kvh_, oh_ (T·d, 2·T·d, T·d) and lse_; backward's
  // du, s1, s2, dO, doh, dqh, dkvh; the ring's cur, next and accumulators (2·T·d each
  // k+v block), and the kernel's scratch.
  const U persistent =
      (s.T + s.L + s.L) * kPos + 2 * s.W * kF + (4 * s.Td + 2 * s.Ti + s.Td + 2 * s.T) * kF;
  const U live =
      (2 * 3 * s.Td + 4 * s.Td + s.HT + s.Td + 2 * s.Ti + s.Td + 4 * s.Td + 4 * 2 * s.Td) * kF;
  EXPECT_EQ(Usp::cost(s.c, s.n, 0, 2, TokenLayout::zigzag).peak_bytes,
            persistent + live + s.bwd_ws(s.L, s.H / 2));
}

TEST(PeakMemory, OdysseusRingHandCount) {
  const Shape s;  // mesh tp=2,ring=1: TpAttention runs RingAttention over a ring of one group
  // Peak: the ring backward. Live: positions (own, the group rows, the gathered rows' and
  // the ring's block positions), the attention half's and the ZeRO-3 MLP's persistent
  // state, attention's saved tensors, dh [T, d], the MLP's full gradients in flight (3·i·d),
  // dO, dq, dkv, the ring's cur, next and accumulators, and the kernel's scratch.
  const U pos = (s.T + 3 * s.L) * kPos;
  const U attn = (2 * s.d + 2 * s.attn_shards(2) + s.Td + s.T) * kF;
  const U mlp = (2 * s.d + 2 * s.FW / 2 + s.T) * kF;
  const U live = (6 * s.Td + s.HT + s.Td + s.FW + s.Td + s.Td + 2 * s.Td + 4 * 2 * s.Td) * kF;
  EXPECT_EQ(OdysseusRing::cost(s.c, s.n, 0, 2, TokenLayout::zigzag).peak_bytes,
            pos + attn + mlp + live + s.bwd_ws(s.L, s.H / 2));
}

// Every strategy and weight mode through the factory: the peak grows with L (activations
// are O(L), nothing shrinks), is the same on every rank, and exceeds the weights it keeps.
TEST(PeakMemory, MonotoneInLengthAndRankIndependent) {
  struct Case {
    const char* name;
    const char* weights;
  };
  const Case cases[] = {{"tpsp", ""}, {"ulysses", ""},   {"ulysses", "zero3"},
                        {"ring", ""}, {"ring", "zero3"}, {"odysseus", ""},
                        {"usp", ""},  {"usp", "zero3"},  {"odysseus-ring", ""}};
  for (int n : {2, 4, 8}) {
    for (const auto& k : cases) {
      StrategyOptions o;
      if (*k.weights)
        o.weights = std::string(k.weights) == "zero3" ? WeightMode::zero3 : WeightMode::replicated;
      std::uint64_t prev = 0;
      for (std::int64_t L : {512, 1024, 2048, 4096}) {
        SCOPED_TRACE(std::string(k.name) + " " + k.weights + " n=" + std::to_string(n) +
                     " L=" + std::to_string(L));
        const BlockConfig cfg{1, L, 256, 8, 8, 704, true};
        const std::uint64_t p = strategy_cost(k.name, cfg, n, 0, o).peak_bytes;
        EXPECT_GT(p, prev);
        for (int r = 1; r < n; ++r) EXPECT_EQ(strategy_cost(k.name, cfg, n, r, o).peak_bytes, p);
        prev = p;
      }
    }
  }
}

// Storage is fp32 under bf16 (bf16 decides the values and the wire), so the Block's peak
// is unchanged, and so is Ulysses': its all-to-all buffers are send + receive in bf16 (2 x 2
// bytes per element) where the float wire receives (or sends) in place (1 x 4 bytes). The
// others differ only by wire-precision buffers (bf16 ring blocks, bf16 gather copies):
// within 10 % here.
TEST(PeakMemory, Bf16StorageIsFp32) {
  BlockConfig f{1, 4096, 512, 8, 8, 1408, true};
  BlockConfig b = f;
  b.precision = layers::Precision::bf16;
  EXPECT_EQ(layers::Block::peak_bytes(b), layers::Block::peak_bytes(f));
  EXPECT_EQ(Ulysses::cost(b, 2, 0).peak_bytes, Ulysses::cost(f, 2, 0).peak_bytes);
  for (const char* name : {"tpsp", "ring", "odysseus", "usp", "odysseus-ring"}) {
    SCOPED_TRACE(name);
    const double pf = double(strategy_cost(name, f, 2, 0, {}).peak_bytes);
    const double pb = double(strategy_cost(name, b, 2, 0, {}).peak_bytes);
    EXPECT_NEAR(pb / pf, 1.0, 0.10);
  }
}

}  // namespace
}  // namespace ody::strategies
