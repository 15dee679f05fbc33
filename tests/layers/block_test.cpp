// The f32 block (layers/block.hpp, with the fused CPU attention kernel) against the plain
// block of block_reference.hpp in fp64, with the tolerance rule of check.hpp (the yardstick
// is the same reference in f32). The fp64 reference backward is checked against central
// finite differences of the fp64 reference forward on a tiny block.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "block_reference.hpp"
#include "check.hpp"
#include "layers/block.hpp"
#include "layers/init.hpp"

namespace ody::layers::test {
namespace {

struct BlockCase {
  std::int64_t B, L, d, H, G, i;
  bool causal;
  bool permuted;  // positions a permutation of 0..L-1 (zigzag-like layouts)
  std::string name() const {
    return "B" + std::to_string(B) + "_L" + std::to_string(L) + "_d" + std::to_string(d) + "_H" +
           std::to_string(H) + "_G" + std::to_string(G) + "_i" + std::to_string(i) +
           (causal ? "_causal" : "_full") + (permuted ? "_permuted" : "");
  }
};

std::vector<std::int64_t> positions_for(std::int64_t L, bool permuted) {
  std::vector<std::int64_t> p(L);
  std::iota(p.begin(), p.end(), 0);
  if (permuted) std::shuffle(p.begin(), p.end(), std::mt19937_64(L * 7 + 1));
  return p;
}

template <class T, class V>
std::vector<T> to_vec(const V& v) {
  return std::vector<T>(v.data(), v.data() + v.size());
}

template <class T>
RefWeights<T> ref_weights(const BlockWeights& w) {
  RefWeights<T> r;
  const auto ts = w.tensors();
  auto dst = r.all();
  for (std::size_t k = 0; k < ts.size(); ++k) dst[k]->assign(ts[k].data, ts[k].data + ts[k].size());
  return r;
}

class BlockTest : public ::testing::TestWithParam<BlockCase> {};

TEST_P(BlockTest, MatchesReferenceBlock) {
  const auto p = GetParam();
  const BlockConfig cfg{p.B, p.L, p.d, p.H, p.G, p.i, p.causal};
  BlockWeights w(cfg);
  init_block_weights(w, cfg, 1234);
  const Array3 x = make_block_input(cfg, 1234), dy = make_block_dy(cfg, 1234);
  const auto pos = positions_for(p.L, p.permuted);

  Block block(cfg);
  Array3 y("y", p.B, p.L, p.d), dx("dx", p.B, p.L, p.d);
  BlockGrads g(cfg);
  block.forward(y, x, w, Span1<const Pos>(pos.data(), pos.size()));
  block.backward(dx, g, dy, w);

  const RefConfig rc{Z(p.B), Z(p.L), Z(p.d), Z(p.H), Z(p.G), Z(p.i), p.causal};
  const auto r64 =
      block_reference(rc, to_vec<double>(x), to_vec<double>(dy), ref_weights<double>(w), pos);
  const auto r32 =
      block_reference(rc, to_vec<float>(x), to_vec<float>(dy), ref_weights<float>(w), pos);
  const std::vector<Z> btd{Z(p.B), Z(p.L), Z(p.d)};
  expect_close("y", y.data(), r64.y, r32.y, btd);
  expect_close("dx", dx.data(), r64.dx, r32.dx, btd);
  const auto gs = g.tensors();
  auto g64 = r64.grads;
  auto g32 = r32.grads;
  const auto a64 = g64.all();
  const auto a32 = g32.all();
  // Floor scale for gradients that cancel to zero (check.hpp): every weight gradient is a
  // sum over the same tokens of products of O(1) activations with the back-propagated
  // dy, so the largest gradient of the block bounds the terms that cancel.
  double grad_scale = 0;
  for (const auto* t : a64)
    for (double v : *t) grad_scale = std::max(grad_scale, std::abs(v));
  for (std::size_t k = 0; k < gs.size(); ++k)
    expect_close(gs[k].name, gs[k].data, *a64[k], *a32[k], gs[k].shape, grad_scale);

  // kAdd on top of the same gradients gives twice them, bit for bit up to one rounding.
  BlockGrads g2(cfg);
  block.backward(dx, g2, dy, w, Accum::kOverwrite);
  block.backward(dx, g2, dy, w, Accum::kAdd);
  const auto gs2 = g2.tensors();
  for (std::size_t k = 0; k < gs.size(); ++k)
    for (std::size_t e = 0; e < gs[k].size(); ++e)
      ASSERT_EQ(gs2[k].data[e], 2.f * gs[k].data[e]) << gs[k].name << " kAdd at " << e;
}

INSTANTIATE_TEST_SUITE_P(
    Configs, BlockTest,
    ::testing::Values(BlockCase{2, 24, 32, 4, 4, 48, true, false},   // G = H
                      BlockCase{2, 24, 32, 4, 2, 48, true, false},   // G = H/2
                      BlockCase{2, 24, 32, 4, 1, 48, true, false},   // G = 1
                      BlockCase{2, 24, 32, 4, 4, 48, false, false},  // not causal
                      BlockCase{1, 24, 32, 4, 2, 48, false, false},
                      BlockCase{1, 24, 32, 4, 1, 48, false, true},
                      BlockCase{2, 24, 32, 4, 2, 48, true, true},    // permuted positions
                      BlockCase{1, 13, 48, 3, 1, 40, true, true},    // odd L, odd H
                      BlockCase{1, 1, 16, 2, 1, 8, true, false},     // one token
                      BlockCase{1, 70, 64, 2, 2, 96, true, false},   // more than one kernel tile
                      BlockCase{1, 40, 256, 2, 1, 64, true, true}),  // Dh = 128 as in the benchmark
    [](const auto& info) { return info.param.name(); });

// A packed sequence (BlockConfig::doc_starts, docs/algorithms.md 7) is its documents run
// apart: the packed Block's y and dx rows of document j equal the independent fp64
// reference block run on document j alone (positions 0..len_j-1, no documents), and its
// weight gradients equal the sum over the documents of theirs. Documents of 1, 9 and 14
// tokens (B = 2: every batch row holds the same documents), causal and not, permuted
// positions (a zigzag-like layout of the packed sequence).
TEST(BlockPacked, EqualsDocumentsRunApart) {
  const std::vector<std::int64_t> lens{9, 1, 14};
  for (bool causal : {true, false})
    for (bool permuted : {false, true}) {
      SCOPED_TRACE(std::string(causal ? "causal" : "full") + (permuted ? " permuted" : ""));
      BlockConfig cfg{2, 24, 32, 4, 2, 48, causal};
      cfg.doc_starts = {0, 9, 10};
      BlockWeights w(cfg);
      init_block_weights(w, cfg, 99);
      const Array3 x = make_block_input(cfg, 99), dy = make_block_dy(cfg, 99);
      // Row l of the block's tensors holds global position pos[l].
      const auto pos = positions_for(cfg.L, permuted);
      Block block(cfg);
      Array3 y("y", 2, 24, 32), dx("dx", 2, 24, 32);
      BlockGrads g(cfg);
      block.forward(y, x, w, Span1<const Pos>(pos.data(), pos.size()));
      block.backward(dx, g, dy, w);
      // The references, one document at a time, assembled by global position.
      std::vector<double> y64(x.size()), dx64(x.size());
      std::vector<float> y32(x.size()), dx32(x.size());
      RefWeights<double> g64 = ref_weights<double>(w);
      RefWeights<float> g32 = ref_weights<float>(w);
      for (auto* t : g64.all()) std::fill(t->begin(), t->end(), 0.0);
      for (auto* t : g32.all()) std::fill(t->begin(), t->end(), 0.f);
      std::vector<std::int64_t> row_of(cfg.L);  // global position -> row
      for (std::int64_t l = 0; l < cfg.L; ++l) row_of[pos[l]] = l;
      std::int64_t start = 0;
      for (std::int64_t len : lens) {
        const RefConfig rc{2, len, 32, 4, 2, 48, causal};
        std::vector<double> xd(2 * len * 32), dyd(2 * len * 32);
        for (std::int64_t b = 0; b < 2; ++b)
          for (std::int64_t t = 0; t < len; ++t)
            for (std::int64_t e = 0; e < 32; ++e) {
              const std::int64_t at = (b * 24 + row_of[start + t]) * 32 + e;
              xd[(b * len + t) * 32 + e] = x.data()[at];
              dyd[(b * len + t) * 32 + e] = dy.data()[at];
            }
        std::vector<std::int64_t> local(len);
        std::iota(local.begin(), local.end(), 0);
        const auto r64 = block_reference(rc, xd, dyd, ref_weights<double>(w), local);
        const auto r32 = block_reference(rc, std::vector<float>(xd.begin(), xd.end()),
                                         std::vector<float>(dyd.begin(), dyd.end()),
                                         ref_weights<float>(w), local);
        for (std::int64_t b = 0; b < 2; ++b)
          for (std::int64_t t = 0; t < len; ++t)
            for (std::int64_t e = 0; e < 32; ++e) {
              const std::int64_t at = (b * 24 + row_of[start + t]) * 32 + e,
                                 from = (b * len + t) * 32 + e;
              y64[at] = r64.y[from];
              dx64[at] = r64.dx[from];
              y32[at] = r32.y[from];
              dx32[at] = r32.dx[from];
            }
        auto a64 = g64.all();
        auto a32 = g32.all();
        auto rg64 = r64.grads;
        auto rg32 = r32.grads;
        const auto b64 = rg64.all();
        const auto b32 = rg32.all();
        for (std::size_t k = 0; k < a64.size(); ++k)
          for (std::size_t e = 0; e < a64[k]->size(); ++e) {
            (*a64[k])[e] += (*b64[k])[e];
            (*a32[k])[e] += (*b32[k])[e];
          }
        start += len;
      }
      const std::vector<Z> btd{2, 24, 32};
      expect_close("y", y.data(), y64, y32, btd);
      expect_close("dx", dx.data(), dx64, dx32, btd);
      double grad_scale = 0;
      for (const auto* t : g64.all())
        for (double v : *t) grad_scale = std::max(grad_scale, std::abs(v));
      const auto gs = g.tensors();
      const auto a64 = g64.all();
      const auto a32 = g32.all();
      for (std::size_t k = 0; k < gs.size(); ++k)
        expect_close(gs[k].name, gs[k].data, *a64[k], *a32[k], gs[k].shape, grad_scale);
      // And packing matters: the same tokens as one document give another y.
      BlockConfig one = cfg;
      one.doc_starts.clear();
      Block whole(one);
      Array3 y1("y1", 2, 24, 32);
      whole.forward(y1, x, w, Span1<const Pos>(pos.data(), pos.size()));
      double diff = 0;
      for (std::size_t e = 0; e < y.size(); ++e)
        diff = std::max(diff, std::abs(double(y.data()[e]) - y1.data()[e]));
      EXPECT_GT(diff, 1e-2);
    }
}

// Precision::bf16 (layers/precision.hpp) against the fp64 reference on the same
// bf16-valued inputs. Along the chain the bf16 block rounds at S = 19 stages (forward: u1,
// q/k/v, RoPE, o, h, u2, gate/up, act, y; backward: the gradients of the same tensors, and
// dq/dk/dv out of the kernel), each a relative perturbation of at most u_b = 2^-8 carried on
// with O(1) gain, so ||Block - ref||_2 <= S·u_b·||ref||_2 (about 7 %; independent roundings
// give far less). And it really is bf16: the error is far above fp32's (> u_b/64), the
// activations it returns (y, dx) are bf16 values, and the weight gradients are fp32 sums (not
// all bf16 values).
TEST(BlockBf16, WithinItsRoundingStagesAndReallyBf16) {
  constexpr double kUb = 1.0 / 256, kStages = 19;
  for (const bool causal : {true, false})
    for (const std::int64_t G : {4, 1}) {
      BlockConfig cfg{2, 24, 32, 4, G, 48, causal};
      cfg.precision = Precision::bf16;
      SCOPED_TRACE("G" + std::to_string(G) + (causal ? " causal" : " full"));
      BlockWeights w(cfg);
      init_block_weights(w, cfg, 99);
      const Array3 x = make_block_input(cfg, 99), dy = make_block_dy(cfg, 99);
      for (const auto& t : w.tensors())
        for (std::size_t e = 0; e < t.size(); ++e)
          ASSERT_EQ(round_to_bf16(t.data[e]), t.data[e]) << t.name;
      Block block(cfg);
      Array3 y("y", cfg.B, cfg.L, cfg.d), dx("dx", cfg.B, cfg.L, cfg.d);
      BlockGrads g(cfg);
      block.forward(y, x, w);
      block.backward(dx, g, dy, w);
      const auto pos = positions_for(cfg.L, false);
      const RefConfig rc{Z(cfg.B), Z(cfg.L), Z(cfg.d), Z(cfg.H), Z(cfg.G), Z(cfg.ffn), causal};
      const auto r64 =
          block_reference(rc, to_vec<double>(x), to_vec<double>(dy), ref_weights<double>(w), pos);
      auto check = [&](const std::string& name, const float* got, const std::vector<double>& ref,
                       bool bf16_values) {
        double d2 = 0, r2 = 0;
        bool all_bf16 = true;
        for (std::size_t e = 0; e < ref.size(); ++e) {
          d2 += (got[e] - ref[e]) * (got[e] - ref[e]);
          r2 += ref[e] * ref[e];
          all_bf16 = all_bf16 && round_to_bf16(got[e]) == got[e];
        }
        const double rel = std::sqrt(d2 / r2);
        EXPECT_LE(rel, kStages * kUb) << name << ": relative 2-norm error " << rel;
        EXPECT_GT(rel, kUb / 64) << name << ": no bf16 rounding visible (relative error " << rel
                                 << ")";
        EXPECT_EQ(all_bf16, bf16_values) << name;
      };
      check("y", y.data(), r64.y, true);
      check("dx", dx.data(), r64.dx, true);
      auto g64 = r64.grads;
      const auto a64 = g64.all();
      const auto gs = g.tensors();
      for (std::size_t k = 0; k < gs.size(); ++k) check(gs[k].name, gs[k].data, *a64[k], false);
    }
}

// The fp64 reference block's backward against central differences of its forward,
// for every input and weight element, causal with permuted positions and GQA.
TEST(BlockReference, BackwardMatchesFiniteDifferences) {
  const RefConfig c{1, 5, 8, 2, 1, 6, true};
  const std::vector<std::int64_t> pos{3, 0, 4, 1, 2};
  const BlockConfig cfg{1, 5, 8, 2, 1, 6, true};
  BlockWeights bw(cfg);
  init_block_weights(bw, cfg, 7);
  const auto w = ref_weights<double>(bw);
  const auto x = uniform(c.T() * c.d, 8), dy = uniform(c.T() * c.d, 9);
  const auto r = block_reference(c, x, dy, w, pos);
  expect_fd_close("block dx", r.dx, central_difference(x, [&](const std::vector<double>& xx) {
                    return dot(block_forward_ref(c, xx, w, pos), dy);
                  }));
  auto wg = r.grads;
  const auto grads = wg.all();
  for (std::size_t k = 0; k < grads.size(); ++k) {
    RefWeights<double> wp = w;
    const auto fd = central_difference(*wp.all()[k], [&](const std::vector<double>& t) {
      RefWeights<double> ww = w;
      *ww.all()[k] = t;
      return dot(block_forward_ref(c, x, ww, pos), dy);
    });
    expect_fd_close("block grad " + std::to_string(k), *grads[k], fd);
  }
}

TEST(BlockConfigTest, ValidationNamesParameterAndRule) {
  auto message = [](BlockConfig c) {
    try {
      c.validate();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({1, 8, 30, 4, 4, 16, true}).find("d % H == 0"), std::string::npos);
  EXPECT_NE(message({1, 8, 32, 4, 3, 16, true}).find("BlockConfig.G"), std::string::npos);
  EXPECT_NE(message({1, 0, 32, 4, 4, 16, true}).find("BlockConfig.L"), std::string::npos);
  EXPECT_NE(message({1, 8, 32, 4, 4, 0, true}).find("BlockConfig.ffn"), std::string::npos);
  EXPECT_NE(message({1, 8, 12, 4, 4, 16, true}).find("even head dim"), std::string::npos);
  EXPECT_EQ(message({1, 8, 32, 4, 2, 16, true}), "no error");
}

TEST(BlockApi, BackwardNeedsForwardAndShapesAreChecked) {
  const BlockConfig cfg{1, 4, 8, 2, 1, 8, true};
  Block block(cfg);
  BlockWeights w(cfg);
  init_block_weights(w, cfg, 1);
  BlockGrads g(cfg);
  Array3 x = make_block_input(cfg, 1), y("y", 1, 4, 8), wrong("wrong", 1, 5, 8);
  EXPECT_THROW(block.backward(y, g, x, w), Error);
  EXPECT_THROW(block.forward(wrong, x, w), Error);
  std::vector<Pos> pos(3);
  EXPECT_THROW(block.forward(y, x, w, Span1<const Pos>(pos.data(), 3)), Error);
  BlockWeights other(BlockConfig{1, 4, 8, 2, 2, 8, true});  // G = 2: wk has another shape
  try {
    block.forward(y, x, other);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("wk"), std::string::npos) << e.what();
  }
}

TEST(BlockApi, SavedActivationBytesFollowTheFormula) {
  const BlockConfig c{2, 4096, 1024, 8, 2, 2816, true};
  const std::size_t T = 2 * 4096, Dh = 128;
  const std::size_t floats =
      2 * T * 1024 + 2 * T * 8 * Dh + 2 * T * 2 * Dh + 2 * T * 2816 + 2 * T + 2 * 8 * 4096;
  EXPECT_EQ(Block::saved_activation_bytes(c), floats * 4 + 4096 * 8);
}

// A shard can generate its own part of a tensor: element e depends only on (seed, stream, e).
TEST(BlockInit, SeededValuesAreCounterBased) {
  std::vector<float> whole(100), part(30);
  fill_seeded(whole.data(), 100, 5, 2, 0.5f, 1.f);
  fill_seeded(part.data(), 30, 5, 2, 0.5f, 1.f, 40);
  for (int e = 0; e < 30; ++e) ASSERT_EQ(part[e], whole[40 + e]);
  double mean = 0;
  for (float v : whole) mean += v - 1.0;
  EXPECT_LT(std::abs(mean / 100), 0.1);
  for (float v : whole) ASSERT_TRUE(v >= 0.5f && v <= 1.5f);
}

}  // namespace
}  // namespace ody::layers::test
