// CPU fused attention (kernels/attention.hpp) against the plain fp64 reference, with
// tolerances derived from a plain fp32 implementation (rule in attention_test_util.hpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/error.hpp"
#include "kernels/attention.hpp"
#include "kernels/attention_cpu_runner.hpp"
#include "kernels/attention_merge.hpp"
#include "kernels/attention_reference.hpp"
#include "kernels/attention_test_util.hpp"

namespace ody::kernels::test {
namespace {

class AttentionCpu : public ::testing::TestWithParam<Problem> {};

void check_forward(const Problem& p, const Result& got, const Expected& ref, const Expected& plain,
                   bool bf16_out) {
  const auto& s = p.shape;
  EXPECT_TRUE(all_close(p.name + " out", got.out, ref.out,
                        derived_tolerance(ref.out, plain.out, s.len_k, s.head_dim, bf16_out),
                        q_dims(s)));
  EXPECT_TRUE(all_close(p.name + " lse", got.lse, ref.lse,
                        derived_tolerance(ref.lse, plain.lse, s.len_k, s.head_dim, false),
                        lse_dims(s)));
}
void check_backward(const Problem& p, const Result& got, const Expected& ref,
                    const Expected& plain) {
  const auto& s = p.shape;
  // Gradients sum over the other sequence too (dk, dv over Lq rows): use Lq + Lk.
  const std::int64_t n = s.len_q + s.len_k;
  const double mag =
      std::max({max_abs_finite(ref.dq), max_abs_finite(ref.dk), max_abs_finite(ref.dv)});
  EXPECT_TRUE(all_close(p.name + " dq", got.dq, ref.dq,
                        derived_tolerance(ref.dq, plain.dq, n, s.head_dim, false, mag), q_dims(s)));
  EXPECT_TRUE(all_close(p.name + " dk", got.dk, ref.dk,
                        derived_tolerance(ref.dk, plain.dk, n, s.head_dim, false, mag), k_dims(s)));
  EXPECT_TRUE(all_close(p.name + " dv", got.dv, ref.dv,
                        derived_tolerance(ref.dv, plain.dv, n, s.head_dim, false, mag), k_dims(s)));
}

TEST_P(AttentionCpu, ForwardBackwardMatchFp64) {
  const Problem& p = GetParam();
  const Expected ref = reference64(p, true), plain = plain32(p, true);
  if (!p.bf16) {
    const Result r = run_cpu<float, float>(p, true);
    check_forward(p, r, ref, plain, false);
    check_backward(p, r, ref, plain);
    return;
  }
  // bf16 inputs, fp32 outputs (ring partials): fp32 arithmetic on the same rounded values.
  const Result r32 = run_cpu<ody::bf16, float>(p, true);
  check_forward(p, r32, ref, plain, false);
  check_backward(p, r32, ref, plain);
  // bf16 inputs and outputs: out carries one extra bf16 rounding.
  const Result r16 = run_cpu<ody::bf16, ody::bf16>(p, true);
  check_forward(p, r16, ref, plain, true);
  // Backward with bf16 out/dout must equal the fp32 path fed the same (widened) values:
  // after widening it is the same arithmetic, so the results agree exactly.
  {
    const auto q = to_bf16(p.q), k = to_bf16(p.k), v = to_bf16(p.v);
    std::vector<float> out32(r16.out.begin(), r16.out.end()), lse(r16.lse.begin(), r16.lse.end());
    const auto dout32 = round_bf16(p.dout);
    std::vector<float> dq(p.q_elems()), dk(p.k_elems()), dv(p.k_elems());
    attention_backward<ody::bf16, float>(dq.data(), dk.data(), dv.data(), dout32.data(), q.data(),
                                         k.data(), v.data(), out32.data(), lse.data(),
                                         p.pos_q.data(), p.pos_k.data(), p.shape, p.options);
    EXPECT_TRUE(
        all_close(p.name + " dq bf16-out vs fp32-out", r16.dq, to_f64(dq), 0.0, q_dims(p.shape)));
    EXPECT_TRUE(
        all_close(p.name + " dk bf16-out vs fp32-out", r16.dk, to_f64(dk), 0.0, k_dims(p.shape)));
    EXPECT_TRUE(
        all_close(p.name + " dv bf16-out vs fp32-out", r16.dv, to_f64(dv), 0.0, k_dims(p.shape)));
  }
}

INSTANTIATE_TEST_SUITE_P(Problems, AttentionCpu, ::testing::ValuesIn(standard_problems()),
                         [](const auto& info) { return info.param.name; });

// Rows with no visible key: lse = -inf, out = 0, dq = 0, and no NaN anywhere.
TEST(AttentionCpuEdge, EmptyRowsGiveZeroNotNaN) {
  AttentionShape s;
  s.len_q = 10;
  s.len_k = 40;
  s.heads_q = 2;
  s.heads_k = 1;
  s.head_dim = 64;
  Problem p =
      make_problem("empty_rows", s, true, contiguous_positions(0, 10), contiguous_positions(5, 40));
  const Result r = run_cpu<float, float>(p, true);
  for (std::int64_t h = 0; h < s.heads_q; ++h)
    for (std::int64_t i = 0; i < s.len_q; ++i) {
      const bool empty = i < 5;
      const double l = r.lse[static_cast<size_t>(h * s.len_q + i)];
      if (empty)
        EXPECT_EQ(l, -INFINITY) << "row " << i;
      else
        EXPECT_TRUE(std::isfinite(l)) << "row " << i;
      for (std::int64_t d = 0; d < s.head_dim; ++d) {
        const size_t at = static_cast<size_t>((i * s.heads_q + h) * s.head_dim + d);
        if (empty) {
          EXPECT_EQ(r.out[at], 0.0);
          EXPECT_EQ(r.dq[at], 0.0);
        }
        EXPECT_FALSE(std::isnan(r.out[at]) || std::isnan(r.dq[at]));
      }
    }
  for (double x : r.dk) EXPECT_FALSE(std::isnan(x));
  // Keys at positions > every query (36..44) get no gradient.
  for (std::int64_t j = 5; j < s.len_k; ++j)
    for (std::int64_t d = 0; d < s.head_dim; ++d) {
      EXPECT_EQ(r.dk[static_cast<size_t>(j * s.head_dim + d)], 0.0);
      EXPECT_EQ(r.dv[static_cast<size_t>(j * s.head_dim + d)], 0.0);
    }
  // Lk = 0: every row is empty.
  s.len_k = 0;
  std::vector<float> q(static_cast<size_t>(s.len_q * s.heads_q * s.head_dim), 1.f),
      out(q.size(), 7.f), lse(20, 3.f);
  const auto pq = contiguous_positions(0, 10);
  attention_forward<float, float>(out.data(), lse.data(), q.data(), nullptr, nullptr, pq.data(),
                                  nullptr, s, {});
  for (float x : out) EXPECT_EQ(x, 0.f);
  for (float x : lse) EXPECT_EQ(x, -INFINITY);
}

// Ring use: forward on two key blocks merged (in the kernel, and with attention_merge),
// backward on the blocks accumulated, equal the whole-key-set results.
class AttentionCpuBlocks : public ::testing::TestWithParam<Problem> {};

TEST_P(AttentionCpuBlocks, BlockwiseEqualsWhole) {
  const Problem& p = GetParam();
  const auto& s = p.shape;
  const Expected ref = reference64(p, true), plain = plain32(p, true);
  const std::int64_t split = s.len_k / 3, HD = s.heads_k * s.head_dim;
  AttentionShape s1 = s, s2 = s;
  s1.len_k = split;
  s2.len_k = s.len_k - split;
  // Blocks are views into the full k, v (parent strides).
  ForwardLayout fl;
  fl.k = fl.v = Strides{s.len_k * HD, HD, s.head_dim};
  const float* k2 = p.k.data() + split * HD;
  const float* v2 = p.v.data() + split * HD;
  const std::int64_t* pk2 = p.pos_k.data() + split;

  // (a) accumulate: start empty (out 0, lse -inf), add both blocks.
  std::vector<float> out(p.q_elems(), 0.f), lse(p.lse_elems(), -INFINITY);
  AttentionOptions acc = p.options;
  acc.accumulate = true;
  attention_forward<float, float>(out.data(), lse.data(), p.q.data(), p.k.data(), p.v.data(),
                                  p.pos_q.data(), p.pos_k.data(), s1, acc, fl);
  attention_forward<float, float>(out.data(), lse.data(), p.q.data(), k2, v2, p.pos_q.data(), pk2,
                                  s2, acc, fl);
  Result a;
  a.out = to_f64(out);
  a.lse = to_f64(lse);
  check_forward(p, a, ref, plain, false);

  // (b) separate partials merged by attention_merge.
  std::vector<float> out_b(p.q_elems()), lse_b(p.lse_elems());
  attention_forward<float, float>(out.data(), lse.data(), p.q.data(), p.k.data(), p.v.data(),
                                  p.pos_q.data(), p.pos_k.data(), s1, p.options, fl);
  attention_forward<float, float>(out_b.data(), lse_b.data(), p.q.data(), k2, v2, p.pos_q.data(),
                                  pk2, s2, p.options, fl);
  attention_merge(out.data(), lse.data(), out_b.data(), lse_b.data(), s);
  Result b;
  b.out = to_f64(out);
  b.lse = to_f64(lse);
  check_forward(p, b, ref, plain, false);

  // (c) backward per block with the final out/lse, accumulated; dk/dv written in place.
  std::vector<float> dq(p.q_elems(), 0.f), dk(p.k_elems(), 0.f), dv(p.k_elems(), 0.f);
  BackwardLayout bl;
  bl.k = bl.v = bl.dk = bl.dv = fl.k;
  for (int blk = 0; blk < 2; ++blk) {
    const std::int64_t off = blk == 0 ? 0 : split * HD;
    attention_backward<float, float>(dq.data(), dk.data() + off, dv.data() + off, p.dout.data(),
                                     p.q.data(), p.k.data() + off, p.v.data() + off, out.data(),
                                     lse.data(), p.pos_q.data(), p.pos_k.data() + (blk ? split : 0),
                                     blk == 0 ? s1 : s2, acc, bl);
  }
  Result c;
  c.dq = to_f64(dq);
  c.dk = to_f64(dk);
  c.dv = to_f64(dv);
  check_backward(p, c, ref, plain);
}

std::vector<Problem> block_problems() {
  std::vector<Problem> v;
  for (const auto& p : standard_problems())
    if (!p.bf16 && p.shape.len_k >= 3) v.push_back(p);
  return v;
}
INSTANTIATE_TEST_SUITE_P(Problems, AttentionCpuBlocks, ::testing::ValuesIn(block_problems()),
                         [](const auto& info) { return info.param.name; });

// Sub-blocks passed with the parent's strides (a head range, the second half of the
// rows, as strategies do) give exactly what the full call gives for those elements.
TEST(AttentionCpuStrides, SubBlocksMatchFullCall) {
  AttentionShape s;
  s.batch = 2;
  s.len_q = 96;
  s.len_k = 96;
  s.heads_q = 4;
  s.heads_k = 2;
  s.head_dim = 64;
  Problem p =
      make_problem("strides", s, true, zigzag_positions(1, 2, 192), zigzag_positions(1, 2, 192));
  const Result full = run_cpu<float, float>(p, true);
  const std::int64_t Dh = s.head_dim;
  const Strides qst{s.len_q * s.heads_q * Dh, s.heads_q * Dh, Dh},
      kst{s.len_k * s.heads_k * Dh, s.heads_k * Dh, Dh};
  const LseStrides lst{s.heads_q * s.len_q, s.len_q};
  // Heads 2..3 (kv head 1), rows 48..95.
  AttentionShape sub = s;
  sub.heads_q = 2;
  sub.heads_k = 1;
  sub.len_q = 48;
  const std::int64_t r0 = 48, h0 = 2, hk0 = 1;
  std::vector<float> out(p.q_elems(), 0.f), lse(p.lse_elems(), 0.f);
  ForwardLayout fl{qst, kst, kst, qst, lst};
  const std::int64_t qoff = r0 * qst.seq + h0 * Dh, koff = hk0 * Dh, loff = h0 * s.len_q + r0;
  attention_forward<float, float>(out.data() + qoff, lse.data() + loff, p.q.data() + qoff,
                                  p.k.data() + koff, p.v.data() + koff, p.pos_q.data() + r0,
                                  p.pos_k.data(), sub, p.options, fl);
  // Backward of the same sub-problem, using the full call's out/lse (its rows, heads).
  std::vector<float> out_full(full.out.begin(), full.out.end()),
      lse_full(full.lse.begin(), full.lse.end());
  std::vector<float> dq(p.q_elems(), 0.f), dk(p.k_elems(), 0.f), dv(p.k_elems(), 0.f);
  BackwardLayout bl{qst, kst, kst, qst, qst, qst, kst, kst, lst};
  attention_backward<float, float>(
      dq.data() + qoff, dk.data() + koff, dv.data() + koff, p.dout.data() + qoff, p.q.data() + qoff,
      p.k.data() + koff, p.v.data() + koff, out_full.data() + qoff, lse_full.data() + loff,
      p.pos_q.data() + r0, p.pos_k.data(), sub, p.options, bl);
  // The full call's dk/dv also include rows 0..47; recompute them restricted to rows
  // 48..95 with a contiguous copy of the sub-problem to compare like with like.
  std::vector<float> qs, ks, vs, dos, outs, lses;
  for (std::int64_t b = 0; b < s.batch; ++b)
    for (std::int64_t i = 0; i < sub.len_q; ++i)
      for (std::int64_t h = 0; h < sub.heads_q; ++h)
        for (std::int64_t d = 0; d < Dh; ++d) {
          const size_t at =
              static_cast<size_t>(b * qst.batch + (r0 + i) * qst.seq + (h0 + h) * Dh + d);
          qs.push_back(p.q[at]);
          dos.push_back(p.dout[at]);
          outs.push_back(out_full[at]);
        }
  for (std::int64_t b = 0; b < s.batch; ++b)
    for (std::int64_t j = 0; j < s.len_k; ++j)
      for (std::int64_t d = 0; d < Dh; ++d) {
        const size_t at = static_cast<size_t>(b * kst.batch + j * kst.seq + hk0 * Dh + d);
        ks.push_back(p.k[at]);
        vs.push_back(p.v[at]);
      }
  for (std::int64_t b = 0; b < s.batch; ++b)
    for (std::int64_t h = 0; h < sub.heads_q; ++h)
      for (std::int64_t i = 0; i < sub.len_q; ++i)
        lses.push_back(lse_full[static_cast<size_t>(b * lst.batch + (h0 + h) * lst.head + r0 + i)]);
  std::vector<float> o2(qs.size()), l2(lses.size()), dq2(qs.size()), dk2(ks.size()), dv2(ks.size());
  attention_forward<float, float>(o2.data(), l2.data(), qs.data(), ks.data(), vs.data(),
                                  p.pos_q.data() + r0, p.pos_k.data(), sub, p.options);
  attention_backward<float, float>(dq2.data(), dk2.data(), dv2.data(), dos.data(), qs.data(),
                                   ks.data(), vs.data(), outs.data(), lses.data(),
                                   p.pos_q.data() + r0, p.pos_k.data(), sub, p.options);
  // Compare element by element (same arithmetic, so equal up to BLAS blocking: 1 ulp).
  size_t n = 0;
  double worst = 0;
  for (std::int64_t b = 0; b < s.batch; ++b)
    for (std::int64_t i = 0; i < sub.len_q; ++i)
      for (std::int64_t h = 0; h < sub.heads_q; ++h)
        for (std::int64_t d = 0; d < Dh; ++d, ++n) {
          const size_t at =
              static_cast<size_t>(b * qst.batch + (r0 + i) * qst.seq + (h0 + h) * Dh + d);
          worst = std::max(worst, abs_diff(out[at], o2[n]) + abs_diff(dq[at], dq2[n]));
          // Also equal to the full call's output for those rows and heads.
          worst = std::max(worst, abs_diff(out[at], full.out[at]));
        }
  n = 0;
  for (std::int64_t b = 0; b < s.batch; ++b)
    for (std::int64_t j = 0; j < s.len_k; ++j)
      for (std::int64_t d = 0; d < Dh; ++d, ++n) {
        const size_t at = static_cast<size_t>(b * kst.batch + j * kst.seq + hk0 * Dh + d);
        worst = std::max(worst, abs_diff(dk[at], dk2[n]) + abs_diff(dv[at], dv2[n]));
      }
  for (std::int64_t b = 0; b < s.batch; ++b)
    for (std::int64_t h = 0; h < sub.heads_q; ++h)
      for (std::int64_t i = 0; i < sub.len_q; ++i)
        worst = std::max(
            worst, abs_diff(lse[static_cast<size_t>(b * lst.batch + (h0 + h) * lst.head + r0 + i)],
                            l2[static_cast<size_t>((b * sub.heads_q + h) * sub.len_q + i)]));
  EXPECT_LE(worst, 1e-5) << "strided sub-block differs from the contiguous call";
  // Elements outside the sub-block were not touched.
  EXPECT_EQ(out[0], 0.f);
  EXPECT_EQ(dk[0], 0.f);
}

// Backward against central finite differences of loss = sum(dout * out), evaluated with
// the fp64 reference (h = 1e-6: truncation ~h^2 and cancellation ~1e-16/h, both < 1e-9).
TEST(AttentionCpuGradient, MatchesFiniteDifferences) {
  AttentionShape s;
  s.len_q = 5;
  s.len_k = 6;
  s.heads_q = 2;
  s.heads_k = 1;
  s.head_dim = 8;
  Problem p = make_problem("fd", s, true, {2, 3, 5, 7, 9}, {0, 1, 3, 4, 8, 20});
  const auto q = to_f64(p.q), k = to_f64(p.k), v = to_f64(p.v), dout = to_f64(p.dout);
  auto loss = [&](const std::vector<double>& qq, const std::vector<double>& kk,
                  const std::vector<double>& vv) {
    std::vector<double> out(p.q_elems()), lse(p.lse_elems());
    reference_attention_forward<double>(out.data(), lse.data(), qq.data(), kk.data(), vv.data(),
                                        p.pos_q.data(), p.pos_k.data(), s, p.options);
    double l = 0;
    for (size_t i = 0; i < out.size(); ++i) l += dout[i] * out[i];
    return l;
  };
  const double h = 1e-6;
  auto fd = [&](int which) {
    std::vector<double> g, x = which == 0 ? q : which == 1 ? k : v;
    for (size_t i = 0; i < x.size(); ++i) {
      auto xp = x, xm = x;
      xp[i] += h;
      xm[i] -= h;
      const double lp = which == 0 ? loss(xp, k, v) : which == 1 ? loss(q, xp, v) : loss(q, k, xp);
      const double lm = which == 0 ? loss(xm, k, v) : which == 1 ? loss(q, xm, v) : loss(q, k, xm);
      g.push_back((lp - lm) / (2 * h));
    }
    return g;
  };
  const auto gq = fd(0), gk = fd(1), gv = fd(2);
  const Expected ref = reference64(p, true), plain = plain32(p, true);
  // The fp64 reference backward agrees with finite differences to FD accuracy.
  EXPECT_TRUE(all_close("ref dq vs FD", ref.dq, gq, 1e-7 * (1 + max_abs_finite(gq)), q_dims(s)));
  EXPECT_TRUE(all_close("ref dk vs FD", ref.dk, gk, 1e-7 * (1 + max_abs_finite(gk)), k_dims(s)));
  EXPECT_TRUE(all_close("ref dv vs FD", ref.dv, gv, 1e-7 * (1 + max_abs_finite(gv)), k_dims(s)));
  // The kernel agrees with finite differences within the fp32 rule (FD error is far below it).
  const Result r = run_cpu<float, float>(p, true);
  const std::int64_t n = s.len_q + s.len_k;
  EXPECT_TRUE(all_close("kernel dq vs FD", r.dq, gq,
                        derived_tolerance(gq, plain.dq, n, s.head_dim, false), q_dims(s)));
  EXPECT_TRUE(all_close("kernel dk vs FD", r.dk, gk,
                        derived_tolerance(gk, plain.dk, n, s.head_dim, false), k_dims(s)));
  EXPECT_TRUE(all_close("kernel dv vs FD", r.dv, gv,
                        derived_tolerance(gv, plain.dv, n, s.head_dim, false), k_dims(s)));
}

TEST(AttentionCpuErrors, BadArgumentsThrow) {
  AttentionShape s;
  s.len_q = 4;
  s.len_k = 4;
  s.heads_q = 3;
  s.heads_k = 2;
  s.head_dim = 8;
  std::vector<float> x(4 * 3 * 8, 0.f), lse(12);
  const auto pos = contiguous_positions(0, 4);
  EXPECT_THROW((attention_forward<float, float>(x.data(), lse.data(), x.data(), x.data(), x.data(),
                                                pos.data(), pos.data(), s, {})),
               ody::Error);  // Hq not a multiple of Hk
  s.heads_q = 2;
  std::vector<ody::bf16> xb(x.size());
  AttentionOptions acc;
  acc.accumulate = true;
  EXPECT_THROW((attention_forward<ody::bf16, ody::bf16>(xb.data(), lse.data(), xb.data(), xb.data(),
                                                        xb.data(), pos.data(), pos.data(), s, acc)),
               ody::Error);  // merging needs fp32 out
  std::vector<std::byte> small(16);
  Workspace ws{small.data(), small.size()};
  EXPECT_THROW((attention_forward<float, float>(x.data(), lse.data(), x.data(), x.data(), x.data(),
                                                pos.data(), pos.data(), s, {}, {}, &ws)),
               ody::Error);  // workspace too small
  const std::vector<std::int64_t> unsorted{0, 3, 2};
  AttentionOptions docs;
  docs.doc_starts = unsorted.data();
  docs.num_docs = 3;
  EXPECT_THROW((attention_forward<float, float>(x.data(), lse.data(), x.data(), x.data(), x.data(),
                                                pos.data(), pos.data(), s, docs)),
               ody::Error);  // document starts must ascend
  s.head_dim = 0;
  EXPECT_THROW((attention_forward<float, float>(x.data(), lse.data(), x.data(), x.data(), x.data(),
                                                pos.data(), pos.data(), s, {})),
               ody::Error);
}

}  // namespace
}  // namespace ody::kernels::test
