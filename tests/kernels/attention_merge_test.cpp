// attention_merge (kernels/attention_merge.hpp): merging the partials of two disjoint key
// sets equals attention over the union; -inf (empty) partials are handled exactly.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/attention_merge.hpp"
#include "kernels/attention_reference.hpp"
#include "kernels/attention_test_util.hpp"

namespace ody::kernels::test {
namespace {

// fp64 partials over keys [0, split) and [split, Lk), rounded to fp32 and merged in fp32,
// against fp64 attention over all keys. The merge is a handful of fp32 operations per
// element on fp32-rounded inputs (each off by <= eps32 relative), so its error is a few
// eps32 times the magnitudes involved: we allow 16 * eps32 * (max|out| + 1) for out and
// 16 * eps32 * (max|lse| + 1) for lse (the +1 covers log1p's absolute error).
void merge_halves(const Problem& p, std::int64_t split) {
  const auto& s = p.shape;
  const auto q = to_f64(p.q), k = to_f64(p.k), v = to_f64(p.v);
  const std::int64_t HD = s.heads_k * s.head_dim;
  auto partial = [&](std::int64_t from, std::int64_t to, std::vector<float>& out,
                     std::vector<float>& lse) {
    AttentionShape sb = s;
    sb.len_k = to - from;
    std::vector<double> kb, vb;  // rows [from, to) of every batch
    for (std::int64_t b = 0; b < s.batch; ++b) {
      const std::int64_t base = b * s.len_k * HD;
      kb.insert(kb.end(), k.begin() + base + from * HD, k.begin() + base + to * HD);
      vb.insert(vb.end(), v.begin() + base + from * HD, v.begin() + base + to * HD);
    }
    std::vector<double> o(p.q_elems()), l(p.lse_elems());
    reference_attention_forward<double>(o.data(), l.data(), q.data(), kb.data(), vb.data(),
                                        p.pos_q.data(), p.pos_k.data() + from, sb, p.options);
    out.assign(o.begin(), o.end());
    lse.assign(l.begin(), l.end());
  };
  std::vector<float> oa, la, ob, lb;
  partial(0, split, oa, la);
  partial(split, s.len_k, ob, lb);
  attention_merge(oa.data(), la.data(), ob.data(), lb.data(), s);
  const Expected ref = reference64(p, false);
  EXPECT_TRUE(all_close(p.name + " merged out", to_f64(oa), ref.out,
                        16 * kEps32 * (max_abs_finite(ref.out) + 1), q_dims(s)));
  EXPECT_TRUE(all_close(p.name + " merged lse", to_f64(la), ref.lse,
                        16 * kEps32 * (max_abs_finite(ref.lse) + 1), lse_dims(s)));
}

TEST(AttentionMerge, HalvesEqualWhole) {
  for (const auto& p : standard_problems()) {
    if (p.shape.len_k < 2) continue;
    SCOPED_TRACE(p.name);
    merge_halves(p, p.shape.len_k / 2);
    merge_halves(p, 1);  // a tiny block: one key on one side
  }
}

TEST(AttentionMerge, EmptyPartials) {
  AttentionShape s;
  s.len_q = 1;
  s.heads_q = 1;
  s.head_dim = 3;
  const float inf = INFINITY;
  {  // b empty: no-op, bit for bit
    float out[3] = {1.f, -2.f, 3.f}, lse = 0.5f;
    const float ob[3] = {9.f, 9.f, 9.f}, lb = -inf;
    attention_merge(out, &lse, ob, &lb, s);
    EXPECT_EQ(out[0], 1.f);
    EXPECT_EQ(out[1], -2.f);
    EXPECT_EQ(out[2], 3.f);
    EXPECT_EQ(lse, 0.5f);
  }
  {  // a empty: takes b
    float out[3] = {0.f, 0.f, 0.f}, lse = -inf;
    const float ob[3] = {4.f, 5.f, -6.f}, lb = 1.25f;
    attention_merge(out, &lse, ob, &lb, s);
    EXPECT_EQ(out[0], 4.f);
    EXPECT_EQ(out[1], 5.f);
    EXPECT_EQ(out[2], -6.f);
    EXPECT_EQ(lse, 1.25f);
  }
  {  // both empty: stays empty, no NaN
    float out[3] = {0.f, 0.f, 0.f}, lse = -inf;
    const float ob[3] = {0.f, 0.f, 0.f}, lb = -inf;
    attention_merge(out, &lse, ob, &lb, s);
    EXPECT_EQ(lse, -inf);
    for (float x : out) EXPECT_EQ(x, 0.f);
  }
  {  // far apart (exp(200) overflows fp32): the larger side wins, no inf/NaN
    float out[3] = {1.f, 1.f, 1.f}, lse = 0.f;
    const float ob[3] = {2.f, 2.f, 2.f}, lb = 200.f;
    attention_merge(out, &lse, ob, &lb, s);
    EXPECT_FLOAT_EQ(lse, 200.f);
    for (float x : out) EXPECT_FLOAT_EQ(x, 2.f);
    float out2[3] = {1.f, 1.f, 1.f}, lse2 = 0.f;
    const float lb2 = -200.f;
    attention_merge(out2, &lse2, ob, &lb2, s);
    EXPECT_FLOAT_EQ(lse2, 0.f);
    for (float x : out2) EXPECT_FLOAT_EQ(x, 1.f);
  }
  {  // equal lse: the average, lse + ln 2
    float out[3] = {1.f, 2.f, 3.f}, lse = 1.f;
    const float ob[3] = {3.f, 2.f, 1.f}, lb = 1.f;
    attention_merge(out, &lse, ob, &lb, s);
    EXPECT_FLOAT_EQ(lse, 1.f + std::log(2.f));
    for (float x : out) EXPECT_FLOAT_EQ(x, 2.f);
  }
}

TEST(AttentionMerge, IsSymmetric) {
  AttentionShape s;
  s.len_q = 64;
  s.heads_q = 2;
  s.head_dim = 16;
  auto a = random_values(64 * 2 * 16, 11), b = random_values(64 * 2 * 16, 12);
  auto la = random_values(128, 13, 3.f), lb = random_values(128, 14, 3.f);
  la[5] = -INFINITY;
  lb[9] = -INFINITY;
  auto a1 = a, la1 = la, b2 = b, lb2 = lb;
  attention_merge(a1.data(), la1.data(), b.data(), lb.data(), s);
  attention_merge(b2.data(), lb2.data(), a.data(), la.data(), s);
  for (size_t i = 0; i < a1.size(); ++i)
    ASSERT_NEAR(a1[i], b2[i], 4 * kEps32 * (std::fabs(a1[i]) + std::fabs(a[i]) + std::fabs(b[i])))
        << i;
  for (size_t i = 0; i < la1.size(); ++i)
    ASSERT_NEAR(la1[i], lb2[i], 4 * kEps32 * (std::fabs(la1[i]) + 1)) << i;
}

}  // namespace
}  // namespace ody::kernels::test
