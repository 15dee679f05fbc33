// Each layer's forward and backward against the plain reference (reference.hpp) in fp64,
// with the tolerance rule of check.hpp; the fp64 reference backward is itself checked
// against central finite differences of the fp64 reference forward.
#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <tuple>
#include <vector>

#include "base/error.hpp"
#include "check.hpp"
#include "layers/linear.hpp"
#include "layers/mlp.hpp"
#include "layers/rmsnorm.hpp"
#include "layers/rope.hpp"
#include "layers/views.hpp"
#include "reference.hpp"

namespace ody::layers::test {
namespace {

using Shape = std::vector<std::size_t>;

// ---------------------------------------------------------------- RMSNorm ------------------

class RmsNormTest : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(RmsNormTest, ForwardBackwardMatchReference) {
  const auto [rows_i, d_i] = GetParam();
  const Z rows = rows_i, d = d_i;
  const auto x64 = uniform(rows * d, 11 + d, 2.0);
  auto w64 = uniform(d, 12 + d, 0.5);
  for (auto& v : w64) v += 1.0;
  const auto dy64 = uniform(rows * d, 13 + d);
  const auto x = cast<float>(x64), w = cast<float>(w64), dy = cast<float>(dy64);

  std::vector<double> y_r, rstd_r, dx_r, dw_r;
  rmsnorm_ref(y_r, rstd_r, x64, w64, rows, d);
  rmsnorm_bwd_ref(dx_r, dw_r, dy64, x64, w64, rstd_r, rows, d);
  std::vector<float> y_p, rstd_p, dx_p, dw_p;
  rmsnorm_ref(y_p, rstd_p, x, w, rows, d);
  rmsnorm_bwd_ref(dx_p, dw_p, dy, x, w, rstd_p, rows, d);

  std::vector<float> y(rows * d), rstd(rows), dx(rows * d), dw(d);
  rmsnorm_forward(Span2<float>(y.data(), rows, d), Span1<float>(rstd.data(), rows),
                  Span2<const float>(x.data(), rows, d), Span1<const float>(w.data(), d));
  expect_close("rmsnorm y", y.data(), y_r, y_p, {rows, d});
  expect_close("rmsnorm rstd", rstd.data(), rstd_r, rstd_p, {rows});

  rmsnorm_backward(Span2<float>(dx.data(), rows, d), Span1<float>(dw.data(), d),
                   Span2<const float>(dy.data(), rows, d), Span2<const float>(x.data(), rows, d),
                   Span1<const float>(w.data(), d), Span1<const float>(rstd.data(), rows));
  expect_close("rmsnorm dx", dx.data(), dx_r, dx_p, {rows, d});
  expect_close("rmsnorm dw", dw.data(), dw_r, dw_p, {d});

  // kAdd adds to what is there: start from 1 and compare with 1 + gradient.
  std::vector<float> dx2(rows * d, 1.f), dw2(d, 1.f);
  rmsnorm_backward(Span2<float>(dx2.data(), rows, d), Span1<float>(dw2.data(), d),
                   Span2<const float>(dy.data(), rows, d), Span2<const float>(x.data(), rows, d),
                   Span1<const float>(w.data(), d), Span1<const float>(rstd.data(), rows),
                   Accum::kAdd, Accum::kAdd);
  auto plus1 = [](std::vector<double> v) {
    for (auto& e : v) e += 1.0;
    return v;
  };
  auto plus1f = [](std::vector<float> v) {
    for (auto& e : v) e += 1.f;
    return v;
  };
  expect_close("rmsnorm dx (kAdd)", dx2.data(), plus1(dx_r), plus1f(dx_p), {rows, d});
  expect_close("rmsnorm dw (kAdd)", dw2.data(), plus1(dw_r), plus1f(dw_p), {d});
}

INSTANTIATE_TEST_SUITE_P(Shapes, RmsNormTest,
                         ::testing::Values(std::make_tuple(1, 1), std::make_tuple(3, 7),
                                           std::make_tuple(17, 64), std::make_tuple(5, 1024),
                                           std::make_tuple(33, 19)));

TEST(RmsNorm, ReferenceBackwardMatchesFiniteDifferences) {
  const Z rows = 3, d = 5;
  const auto x = uniform(rows * d, 1, 1.5), dy = uniform(rows * d, 2);
  auto w = uniform(d, 3, 0.5);
  for (auto& v : w) v += 1.0;
  std::vector<double> y, rstd, dx, dw;
  rmsnorm_ref(y, rstd, x, w, rows, d);
  rmsnorm_bwd_ref(dx, dw, dy, x, w, rstd, rows, d);
  auto loss_x = [&](const std::vector<double>& xx) {
    std::vector<double> yy, rr;
    rmsnorm_ref(yy, rr, xx, w, rows, d);
    return dot(yy, dy);
  };
  auto loss_w = [&](const std::vector<double>& ww) {
    std::vector<double> yy, rr;
    rmsnorm_ref(yy, rr, x, ww, rows, d);
    return dot(yy, dy);
  };
  expect_fd_close("rmsnorm dx", dx, central_difference(x, loss_x));
  expect_fd_close("rmsnorm dw", dw, central_difference(w, loss_w));
}

TEST(RmsNorm, EmptyOutputsAreSkippedAndShapesChecked) {
  const Z rows = 4, d = 8;
  std::vector<float> x(rows * d, 0.5f), w(d, 1.f), y(rows * d), rstd(rows), dw(d, 7.f);
  rmsnorm_forward(Span2<float>(y.data(), rows, d), Span1<float>(),
                  Span2<const float>(x.data(), rows, d), Span1<const float>(w.data(), d));
  EXPECT_NEAR(y[0], 1.0f, 1e-4f);  // 0.5 / sqrt(0.25 + 1e-5)
  EXPECT_THROW(
      rmsnorm_forward(Span2<float>(y.data(), rows, d), Span1<float>(rstd.data(), rows),
                      Span2<const float>(x.data(), rows, d), Span1<const float>(w.data(), d - 1)),
      Error);
  // Only dx requested: dw stays untouched.
  rmsnorm_forward(Span2<float>(y.data(), rows, d), Span1<float>(rstd.data(), rows),
                  Span2<const float>(x.data(), rows, d), Span1<const float>(w.data(), d));
  rmsnorm_backward(Span2<float>(y.data(), rows, d), Span1<float>(),
                   Span2<const float>(x.data(), rows, d), Span2<const float>(x.data(), rows, d),
                   Span1<const float>(w.data(), d), Span1<const float>(rstd.data(), rows));
  EXPECT_EQ(dw[0], 7.f);
  try {
    rmsnorm_forward(Span2<float>(y.data(), rows, d), Span1<float>(rstd.data(), rows - 1),
                    Span2<const float>(x.data(), rows, d), Span1<const float>(w.data(), d));
    ADD_FAILURE() << "no error for a wrong rstd";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rstd"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------- RoPE ---------------------

struct RopeCase {
  Z B, L, nh, Dh;
  std::int64_t pos0;  // first position
  bool permuted;      // positions shuffled (zigzag-like layouts)
};

class RopeTest : public ::testing::TestWithParam<RopeCase> {};

std::vector<std::int64_t> make_positions(Z L, std::int64_t pos0, bool permuted) {
  std::vector<std::int64_t> p(L);
  std::iota(p.begin(), p.end(), pos0);
  if (permuted) {
    std::mt19937_64 g(L);
    std::shuffle(p.begin(), p.end(), g);
  }
  return p;
}

TEST_P(RopeTest, ForwardBackwardMatchReference) {
  const auto c = GetParam();
  const Z n = c.B * c.L * c.nh * c.Dh;
  const auto pos = make_positions(c.L, c.pos0, c.permuted);
  const auto x64 = uniform(n, 21), dy64 = uniform(n, 22);
  const auto x = cast<float>(x64), dy = cast<float>(dy64);
  const auto y_r = rope_ref(x64, pos, c.B, c.L, c.nh, c.Dh);
  const auto y_p = rope_ref(x, pos, c.B, c.L, c.nh, c.Dh);
  const auto dx_r = rope_ref(dy64, pos, c.B, c.L, c.nh, c.Dh, -1.0);
  const auto dx_p = rope_ref(dy, pos, c.B, c.L, c.nh, c.Dh, -1.0);
  const Shape shape{c.B, c.L, c.nh, c.Dh};

  std::vector<float> y(n), dx(n);
  const Span1<const Pos> p(pos.data(), c.L);
  rope_forward(Span4<float>(y.data(), c.B, c.L, c.nh, c.Dh),
               Span4<const float>(x.data(), c.B, c.L, c.nh, c.Dh), p);
  expect_close("rope y", y.data(), y_r, y_p, shape);
  rope_backward(Span4<float>(dx.data(), c.B, c.L, c.nh, c.Dh),
                Span4<const float>(dy.data(), c.B, c.L, c.nh, c.Dh), p);
  expect_close("rope dx", dx.data(), dx_r, dx_p, shape);

  // In place (y aliases x) gives the same result.
  std::vector<float> inplace = x;
  rope_forward(Span4<float>(inplace.data(), c.B, c.L, c.nh, c.Dh),
               Span4<const float>(inplace.data(), c.B, c.L, c.nh, c.Dh), p);
  EXPECT_EQ(inplace, y);
}

INSTANTIATE_TEST_SUITE_P(Shapes, RopeTest,
                         ::testing::Values(RopeCase{1, 1, 1, 2, 0, false},
                                           RopeCase{2, 5, 3, 8, 0, false},
                                           RopeCase{1, 16, 2, 64, 0, true},
                                           RopeCase{2, 7, 4, 128, 100000, true},
                                           RopeCase{1, 9, 1, 6, 3, true}));

// The fp64 reference backward is the adjoint of its forward: <dy, R x> = <R⁻¹ dy, x> for
// every pair (R is linear in x, so this is the finite-difference check without a step).
TEST(Rope, ReferenceBackwardIsTheAdjoint) {
  const Z B = 2, L = 5, nh = 3, Dh = 8, n = B * L * nh * Dh;
  const auto pos = make_positions(L, 7, true);
  const auto x = uniform(n, 1), dy = uniform(n, 2);
  const auto y = rope_ref(x, pos, B, L, nh, Dh);
  const auto dx = rope_ref(dy, pos, B, L, nh, Dh, -1.0);
  auto loss = [&](const std::vector<double>& xx) {
    return dot(rope_ref(xx, pos, B, L, nh, Dh), dy);
  };
  expect_fd_close("rope dx", dx, central_difference(x, loss));
  EXPECT_NEAR(dot(y, dy), dot(x, dx), 1e-12 * n);
}

TEST(Rope, RejectsOddHeadDimAndWrongPositions) {
  std::vector<float> x(2 * 3 * 3);
  std::vector<std::int64_t> pos(2);
  EXPECT_THROW(
      rope_forward(Span4<float>(x.data(), 1, 2, 3, 3), Span4<const float>(x.data(), 1, 2, 3, 3),
                   Span1<const Pos>(pos.data(), 2)),
      Error);
  EXPECT_THROW(
      rope_forward(Span4<float>(x.data(), 1, 3, 1, 6), Span4<const float>(x.data(), 1, 3, 1, 6),
                   Span1<const Pos>(pos.data(), 2)),
      Error);
}

// ---------------------------------------------------------------- Linear -------------------

class LinearTest : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(LinearTest, ForwardBackwardMatchReference) {
  const auto [t_i, in_i, out_i] = GetParam();
  const Z rows = t_i, in = in_i, out = out_i;
  const auto x64 = uniform(rows * in, 31), w64 = uniform(out * in, 32),
             dy64 = uniform(rows * out, 33);
  const auto x = cast<float>(x64), w = cast<float>(w64), dy = cast<float>(dy64);
  std::vector<float> y(rows * out), dx(rows * in), dw(out * in);
  linear_forward(Span2<float>(y.data(), rows, out), Span2<const float>(x.data(), rows, in),
                 Span2<const float>(w.data(), out, in));
  expect_close("linear y", y.data(), linear_ref(x64, w64, rows, in, out),
               linear_ref(x, w, rows, in, out), {rows, out});
  linear_backward(Span2<float>(dx.data(), rows, in), Span2<float>(dw.data(), out, in),
                  Span2<const float>(dy.data(), rows, out), Span2<const float>(x.data(), rows, in),
                  Span2<const float>(w.data(), out, in));
  expect_close("linear dx", dx.data(), linear_dx_ref(dy64, w64, rows, in, out),
               linear_dx_ref(dy, w, rows, in, out), {rows, in});
  expect_close("linear dw", dw.data(), linear_dw_ref(dy64, x64, rows, in, out),
               linear_dw_ref(dy, x, rows, in, out), {out, in});
}

INSTANTIATE_TEST_SUITE_P(Shapes, LinearTest,
                         ::testing::Values(std::make_tuple(1, 1, 1), std::make_tuple(7, 5, 3),
                                           std::make_tuple(64, 32, 48),
                                           std::make_tuple(33, 129, 17)));

// A weight shard given as a column slice (row-parallel) of a bigger weight, without a
// copy; accumulation of dW over two token halves equals dW over all tokens.
TEST(Linear, StridedShardAndAccumulation) {
  const Z rows = 10, in = 12, out = 6, in_shard = 5, col0 = 4;
  const auto x64 = uniform(rows * in_shard, 41), wfull64 = uniform(out * in, 42),
             dy64 = uniform(rows * out, 43);
  const auto x = cast<float>(x64), wfull = cast<float>(wfull64), dy = cast<float>(dy64);
  // Contiguous copy of the shard for the reference.
  std::vector<double> ws64(out * in_shard);
  for (Z o = 0; o < out; ++o)
    for (Z k = 0; k < in_shard; ++k) ws64[o * in_shard + k] = wfull64[o * in + col0 + k];
  const auto ws = cast<float>(ws64);
  const Array2 wview("w", out, in);
  for (Z o = 0; o < out; ++o)
    for (Z k = 0; k < in; ++k) wview(o, k) = wfull[o * in + k];
  const Mat<const float> shard =
      Kokkos::subview(wview, Kokkos::ALL, std::make_pair(col0, col0 + in_shard));
  EXPECT_EQ(shard.stride(0), in);

  std::vector<float> y(rows * out);
  linear_forward(Span2<float>(y.data(), rows, out), Span2<const float>(x.data(), rows, in_shard),
                 shard);
  expect_close("linear y (strided W)", y.data(), linear_ref(x64, ws64, rows, in_shard, out),
               linear_ref(x, ws, rows, in_shard, out), {rows, out});

  // dW over rows [0, 4) then += over rows [4, 10): equals dW over all rows.
  std::vector<float> dw(out * in_shard, 0.f);
  const Z half = 4;
  linear_backward(Mat<float>(), Span2<float>(dw.data(), out, in_shard),
                  Span2<const float>(dy.data(), half, out),
                  Span2<const float>(x.data(), half, in_shard), shard);
  linear_backward(Mat<float>(), Span2<float>(dw.data(), out, in_shard),
                  Span2<const float>(dy.data() + half * out, rows - half, out),
                  Span2<const float>(x.data() + half * in_shard, rows - half, in_shard), shard,
                  Accum::kOverwrite, Accum::kAdd);
  expect_close("linear dw (accumulated)", dw.data(), linear_dw_ref(dy64, x64, rows, in_shard, out),
               linear_dw_ref(dy, x, rows, in_shard, out), {out, in_shard});

  // Zero tokens: kOverwrite gives a zero gradient, kAdd leaves it.
  std::vector<float> dw0(out * in_shard, 3.f);
  linear_backward(Mat<float>(), Span2<float>(dw0.data(), out, in_shard),
                  Span2<const float>(dy.data(), 0, out), Span2<const float>(x.data(), 0, in_shard),
                  shard, Accum::kOverwrite, Accum::kAdd);
  EXPECT_EQ(dw0[0], 3.f);
  linear_backward(Mat<float>(), Span2<float>(dw0.data(), out, in_shard),
                  Span2<const float>(dy.data(), 0, out), Span2<const float>(x.data(), 0, in_shard),
                  shard);
  EXPECT_EQ(dw0[0], 0.f);
}

TEST(Linear, ReferenceBackwardMatchesFiniteDifferences) {
  const Z rows = 3, in = 4, out = 5;
  const auto x = uniform(rows * in, 1), w = uniform(out * in, 2), dy = uniform(rows * out, 3);
  auto lx = [&](const std::vector<double>& xx) {
    return dot(linear_ref(xx, w, rows, in, out), dy);
  };
  auto lw = [&](const std::vector<double>& ww) {
    return dot(linear_ref(x, ww, rows, in, out), dy);
  };
  expect_fd_close("linear dx", linear_dx_ref(dy, w, rows, in, out), central_difference(x, lx));
  expect_fd_close("linear dw", linear_dw_ref(dy, x, rows, in, out), central_difference(w, lw));
}

TEST(Linear, RejectsMismatchedShapes) {
  std::vector<float> a(64);
  try {
    linear_forward(Span2<float>(a.data(), 2, 3), Span2<const float>(a.data(), 2, 4),
                   Span2<const float>(a.data(), 3, 5));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("linear_forward: w"), std::string::npos) << e.what();
  }
  EXPECT_THROW(linear_forward(Span2<float>(a.data(), 2, 4), Span2<const float>(a.data(), 2, 4),
                              Span2<const float>(a.data(), 3, 4)),
               Error);
}

// ---------------------------------------------------------------- SwiGLU / MLP -------------

TEST(SwiGlu, ForwardBackwardMatchReference) {
  const Z rows = 9, i = 37, n = rows * i;
  const auto g64 = uniform(n, 51, 4.0), u64 = uniform(n, 52, 2.0), da64 = uniform(n, 53);
  const auto g = cast<float>(g64), u = cast<float>(u64), da = cast<float>(da64);
  std::vector<float> act(n), dg(n), du(n);
  swiglu_forward(Span2<float>(act.data(), rows, i), Span2<const float>(g.data(), rows, i),
                 Span2<const float>(u.data(), rows, i));
  expect_close("swiglu act", act.data(), swiglu_ref(g64, u64), swiglu_ref(g, u), {rows, i});
  swiglu_backward(Span2<float>(dg.data(), rows, i), Span2<float>(du.data(), rows, i),
                  Span2<const float>(da.data(), rows, i), Span2<const float>(g.data(), rows, i),
                  Span2<const float>(u.data(), rows, i));
  std::vector<double> dg_r, du_r;
  std::vector<float> dg_p, du_p;
  swiglu_bwd_ref(dg_r, du_r, da64, g64, u64);
  swiglu_bwd_ref(dg_p, du_p, da, g, u);
  expect_close("swiglu dgate", dg.data(), dg_r, dg_p, {rows, i});
  expect_close("swiglu dup", du.data(), du_r, du_p, {rows, i});
  // In place: dgate over dact.
  std::vector<float> inplace = da;
  swiglu_backward(Span2<float>(inplace.data(), rows, i), Span2<float>(du.data(), rows, i),
                  Span2<const float>(inplace.data(), rows, i),
                  Span2<const float>(g.data(), rows, i), Span2<const float>(u.data(), rows, i));
  EXPECT_EQ(inplace, dg);
}

TEST(SwiGlu, ReferenceBackwardMatchesFiniteDifferences) {
  const Z n = 11;
  const auto g = uniform(n, 1, 3.0), u = uniform(n, 2), da = uniform(n, 3);
  std::vector<double> dg, du;
  swiglu_bwd_ref(dg, du, da, g, u);
  expect_fd_close("swiglu dgate", dg, central_difference(g, [&](const std::vector<double>& gg) {
                    return dot(swiglu_ref(gg, u), da);
                  }));
  expect_fd_close("swiglu dup", du, central_difference(u, [&](const std::vector<double>& uu) {
                    return dot(swiglu_ref(g, uu), da);
                  }));
}

// The MLP against the composition of reference layers, including du accumulation.
TEST(Mlp, ForwardBackwardMatchReference) {
  const Z rows = 13, d = 24, i = 40;
  const double s_in = 1.0 / std::sqrt(double(d)), s_mid = 1.0 / std::sqrt(double(i));
  const auto u64 = uniform(rows * d, 61), dy64 = uniform(rows * d, 62);
  const auto wg64 = uniform(i * d, 63, s_in), wu64 = uniform(i * d, 64, s_in),
             wd64 = uniform(d * i, 65, s_mid);
  const auto u = cast<float>(u64), dy = cast<float>(dy64), wg = cast<float>(wg64),
             wu = cast<float>(wu64), wd = cast<float>(wd64);

  auto reference = [&](auto zero, const auto& uu, const auto& dyy, const auto& g_, const auto& u_,
                       const auto& d_) {
    using T = decltype(zero);
    struct R {
      std::vector<T> y, du, dwg, dwu, dwd;
    } r;
    const auto gate = linear_ref(uu, g_, rows, d, i), up = linear_ref(uu, u_, rows, d, i);
    const auto act = swiglu_ref(gate, up);
    r.y = linear_ref(act, d_, rows, i, d);
    const auto dact = linear_dx_ref(dyy, d_, rows, i, d);
    r.dwd = linear_dw_ref(dyy, act, rows, i, d);
    std::vector<T> dg, dup;
    swiglu_bwd_ref(dg, dup, dact, gate, up);
    r.dwg = linear_dw_ref(dg, uu, rows, d, i);
    r.dwu = linear_dw_ref(dup, uu, rows, d, i);
    r.du = linear_dx_ref(dg, g_, rows, d, i);
    const auto du2 = linear_dx_ref(dup, u_, rows, d, i);
    for (Z e = 0; e < r.du.size(); ++e) r.du[e] += du2[e];
    return r;
  };
  const auto r64 = reference(0.0, u64, dy64, wg64, wu64, wd64);
  const auto r32 = reference(0.f, u, dy, wg, wu, wd);

  std::vector<float> y(rows * d), gate(rows * i), up(rows * i), s1(rows * i), s2(rows * i),
      du(rows * d), dwg(i * d), dwu(i * d), dwd(d * i);
  const MlpWeights<> w{Span2<const float>(wg.data(), i, d), Span2<const float>(wu.data(), i, d),
                       Span2<const float>(wd.data(), d, i)};
  mlp_forward(Span2<float>(y.data(), rows, d), Span2<float>(gate.data(), rows, i),
              Span2<float>(up.data(), rows, i), Span2<float>(s1.data(), rows, i),
              Span2<const float>(u.data(), rows, d), w);
  expect_close("mlp y", y.data(), r64.y, r32.y, {rows, d});
  const MlpGrads<> g{Span2<float>(dwg.data(), i, d), Span2<float>(dwu.data(), i, d),
                     Span2<float>(dwd.data(), d, i)};
  mlp_backward(Span2<float>(du.data(), rows, d), g, Span2<const float>(dy.data(), rows, d),
               Span2<const float>(u.data(), rows, d), w, Span2<const float>(gate.data(), rows, i),
               Span2<const float>(up.data(), rows, i), Span2<float>(s1.data(), rows, i),
               Span2<float>(s2.data(), rows, i));
  expect_close("mlp du", du.data(), r64.du, r32.du, {rows, d});
  expect_close("mlp dw_gate", dwg.data(), r64.dwg, r32.dwg, {i, d});
  expect_close("mlp dw_up", dwu.data(), r64.dwu, r32.dwu, {i, d});
  expect_close("mlp dw_down", dwd.data(), r64.dwd, r32.dwd, {d, i});

  // Residual fused via kAdd: y = u + MLP(u).
  std::vector<float> yres = u;
  mlp_forward(Span2<float>(yres.data(), rows, d), Span2<float>(gate.data(), rows, i),
              Span2<float>(up.data(), rows, i), Span2<float>(s1.data(), rows, i),
              Span2<const float>(u.data(), rows, d), w, Accum::kAdd);
  std::vector<double> yres64 = r64.y;
  std::vector<float> yres32 = r32.y;
  for (Z e = 0; e < yres64.size(); ++e) {
    yres64[e] += u64[e];
    yres32[e] += u[e];
  }
  expect_close("mlp residual (kAdd)", yres.data(), yres64, yres32, {rows, d});
}

TEST(Residual, AddsInPlace) {
  std::vector<float> a{1, 2, 3, 4, 5, 6}, b{10, 20, 30, 40, 50, 60};
  residual_add(Span2<float>(a.data(), 2, 3), Span2<const float>(a.data(), 2, 3),
               Span2<const float>(b.data(), 2, 3));
  EXPECT_EQ(a, (std::vector<float>{11, 22, 33, 44, 55, 66}));
  EXPECT_THROW(residual_add(Span2<float>(a.data(), 3, 2), Span2<const float>(a.data(), 2, 3),
                            Span2<const float>(b.data(), 2, 3)),
               Error);
}

}  // namespace
}  // namespace ody::layers::test
