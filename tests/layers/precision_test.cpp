// layers/precision.hpp: bf16 rounding, the thread's precision scope, and which layer
// outputs round under it (activations and activation gradients; never weight gradients).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "base/error.hpp"
#include "layers/linear.hpp"
#include "layers/mlp.hpp"
#include "layers/precision.hpp"
#include "layers/rmsnorm.hpp"
#include "layers/rope.hpp"

namespace ody::layers {
namespace {

bool is_bf16(float x) { return round_to_bf16(x) == x; }

TEST(Precision, RoundToNearestEven) {
  EXPECT_EQ(round_to_bf16(1.0f), 1.0f);
  EXPECT_EQ(round_to_bf16(1.0f + 1.0f / 256), 1.0f);               // tie -> even (1.0)
  EXPECT_EQ(round_to_bf16(1.0f + 3.0f / 256), 1.0f + 4.0f / 256);  // tie -> even (1 + 2^-6)
  EXPECT_EQ(round_to_bf16(1.0f + 1.5f / 256), 1.0f + 2.0f / 256);  // above the tie
  EXPECT_EQ(round_to_bf16(-3.0f), -3.0f);
  EXPECT_TRUE(std::isnan(round_to_bf16(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(round_to_bf16(std::numeric_limits<float>::infinity()),
            std::numeric_limits<float>::infinity());
  // Relative error at most u_b = 2^-8 over many magnitudes.
  for (float x = 1e-3f; x < 1e3f; x *= 1.0137f)
    EXPECT_LE(std::abs(round_to_bf16(x) - x), x / 256) << x;
}

TEST(Precision, ScopeIsPerThreadAndNests) {
  EXPECT_EQ(active_precision(), Precision::f32);
  {
    const PrecisionScope a(Precision::bf16);
    EXPECT_EQ(active_precision(), Precision::bf16);
    std::thread([] { EXPECT_EQ(active_precision(), Precision::f32); }).join();
    {
      const PrecisionScope b(Precision::f32);
      EXPECT_EQ(active_precision(), Precision::f32);
    }
    EXPECT_EQ(active_precision(), Precision::bf16);
  }
  EXPECT_EQ(active_precision(), Precision::f32);
  std::vector<float> v{1.0f + 1.5f / 256};
  round_activations(v.data(), v.size());  // f32: untouched
  EXPECT_EQ(v[0], 1.0f + 1.5f / 256);
  EXPECT_EQ(parse_precision("bf16", "--dtype"), Precision::bf16);
  EXPECT_THROW(parse_precision("fp8", "--dtype"), Error);
}

// Under bf16 every activation output is a bf16 value, weight gradients are not rounded;
// under f32 nothing is rounded.
TEST(Precision, LayersRoundActivationsNotWeightGradients) {
  const Index T = 8, in = 12, out = 10;
  std::vector<float> x(T * in), w(out * in), dy(T * out);
  for (std::size_t e = 0; e < x.size(); ++e) x[e] = round_to_bf16(std::sin(0.37f * e + 0.1f));
  for (std::size_t e = 0; e < w.size(); ++e) w[e] = round_to_bf16(0.3f * std::cos(0.53f * e));
  for (std::size_t e = 0; e < dy.size(); ++e) dy[e] = round_to_bf16(std::sin(0.71f * e));
  auto all_bf16 = [](const std::vector<float>& v) {
    for (float e : v)
      if (!is_bf16(e)) return false;
    return true;
  };
  for (const Precision p : {Precision::f32, Precision::bf16}) {
    const bool bf = p == Precision::bf16;
    const PrecisionScope scope(p);
    std::vector<float> y(T * out), dx(T * in), dw(out * in), u(T * in), rstd(T), g(in, 1.1f),
        dxn(T * in);
    linear_forward(Span2<float>(y.data(), T, out), Span2<const float>(x.data(), T, in),
                   Span2<const float>(w.data(), out, in));
    EXPECT_EQ(all_bf16(y), bf);
    linear_backward(Span2<float>(dx.data(), T, in), Span2<float>(dw.data(), out, in),
                    Span2<const float>(dy.data(), T, out), Span2<const float>(x.data(), T, in),
                    Span2<const float>(w.data(), out, in));
    EXPECT_EQ(all_bf16(dx), bf);
    EXPECT_FALSE(all_bf16(dw));  // fp32 master gradient
    rmsnorm_forward(Span2<float>(u.data(), T, in), Span1<float>(rstd.data(), T),
                    Span2<const float>(x.data(), T, in), Span1<const float>(g.data(), in));
    EXPECT_EQ(all_bf16(u), bf);
    std::vector<float> dg(in);
    rmsnorm_backward(Span2<float>(dxn.data(), T, in), Span1<float>(dg.data(), in),
                     Span2<const float>(u.data(), T, in), Span2<const float>(x.data(), T, in),
                     Span1<const float>(g.data(), in), Span1<const float>(rstd.data(), T));
    EXPECT_EQ(all_bf16(dxn), bf);
    std::vector<float> r(T * in);
    std::vector<Pos> pos(T);
    for (Index t = 0; t < T; ++t) pos[t] = 3 * t + 1;
    rope_forward(Span4<float>(r.data(), 1, T, 2, in / 2),
                 Span4<const float>(x.data(), 1, T, 2, in / 2), Span1<const Pos>(pos.data(), T));
    EXPECT_EQ(all_bf16(r), bf);
    std::vector<float> act(T * in), dgate(T * in), dup(T * in);
    swiglu_forward(Span2<float>(act.data(), T, in), Span2<const float>(x.data(), T, in),
                   Span2<const float>(u.data(), T, in));
    EXPECT_EQ(all_bf16(act), bf);
    swiglu_backward(Span2<float>(dgate.data(), T, in), Span2<float>(dup.data(), T, in),
                    Span2<const float>(dxn.data(), T, in), Span2<const float>(x.data(), T, in),
                    Span2<const float>(u.data(), T, in));
    EXPECT_EQ(all_bf16(dgate), bf);
    EXPECT_EQ(all_bf16(dup), bf);
  }
}

}  // namespace
}  // namespace ody::layers
