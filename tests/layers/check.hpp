#pragma once
// Shared helpers of the layers tests: seeded inputs, the tolerance rule and a comparison
// that prints the worst element.
//
// Tolerance rule (style.md, flash-attention's test rule): the error of the f32 layer
// against the fp64 reference may be at most kFactor times the error of a PLAIN f32
// implementation (the same reference code instantiated with float) against fp64, plus a
// floor of kFloorUlps·u·max|ref| (u = 2^-24) for tensors the plain f32 code happens to
// compute exactly. Why this is a derivation and not a guess: both implementations do the
// same operations in fp32 and differ only in summation order and in where they round;
// standard error analysis bounds both by the same γ_K·Σ|terms| per element, and their
// actual errors are random walks of comparable size. kFactor = 4 leaves room for a
// different order (BLAS blocking, Kokkos loops) without hiding a real bug, which shows
// up as an error of O(1) relative, many orders above u.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "layers/views.hpp"

namespace ody::layers::test {

inline constexpr double kU32 = 1.0 / 16777216.0;  // 2^-24, unit roundoff of fp32
inline constexpr double kFactor = 4.0;
inline constexpr double kFloorUlps = 8.0;

// Uniform values in [-scale, scale] from a seed (std::mt19937_64 is specified exactly,
// so every platform gets the same inputs).
inline std::vector<double> uniform(std::size_t n, std::uint64_t seed, double scale = 1.0) {
  std::mt19937_64 gen(seed);
  std::vector<double> v(n);
  for (auto& x : v) x = scale * (2.0 * double(gen() >> 11) * 0x1.0p-53 - 1.0);
  return v;
}

template <class To, class From>
std::vector<To> cast(const std::vector<From>& v) {
  return std::vector<To>(v.begin(), v.end());
}

// Row-major multi-index of flat index e in shape.
inline std::string index_str(std::size_t e, const std::vector<std::size_t>& shape) {
  std::vector<std::size_t> idx(shape.size());
  for (std::size_t r = shape.size(); r-- > 0;) {
    idx[r] = e % shape[r];
    e /= shape[r];
  }
  std::ostringstream os;
  os << "[";
  for (std::size_t r = 0; r < idx.size(); ++r) os << (r ? ", " : "") << idx[r];
  os << "]";
  return os.str();
}

// Checks max|got - ref| <= kFactor·max|plain - ref| + kFloorUlps·u·max(max|ref|, scale).
// got: the implementation under test; ref: fp64 truth; plain: the f32 yardstick.
// scale: the magnitude of the terms that cancel into this tensor when it can be exactly
// zero in exact arithmetic (e.g. dwq of a one-token block: softmax over one key has zero
// gradient, but an f32 kernel computes it as the difference of O(1) terms, so its
// residue is u times those terms, not u times zero).
inline void expect_close(const std::string& name, const float* got, const std::vector<double>& ref,
                         const std::vector<float>& plain, const std::vector<std::size_t>& shape,
                         double scale = 0.0, double factor = kFactor) {
  std::size_t n = 1;
  for (auto s : shape) n *= s;
  ASSERT_EQ(ref.size(), n) << name;
  ASSERT_EQ(plain.size(), n) << name;
  double max_ref = 0, plain_err = 0, worst = -1;
  std::size_t worst_at = 0;
  bool finite = true;
  for (std::size_t e = 0; e < n; ++e) {
    max_ref = std::max(max_ref, std::abs(ref[e]));
    plain_err = std::max(plain_err, std::abs(double(plain[e]) - ref[e]));
    const double err = std::abs(double(got[e]) - ref[e]);
    if (!std::isfinite(double(got[e]))) finite = false;
    if (!(err <= worst)) {  // also catches NaN
      worst = std::isnan(err) ? INFINITY : err;
      worst_at = e;
    }
  }
  const double tol = factor * plain_err + kFloorUlps * kU32 * std::max(max_ref, scale);
  EXPECT_TRUE(finite && worst <= tol)
      << name << ": worst error " << worst << " at " << index_str(worst_at, shape) << " (got "
      << got[worst_at] << ", fp64 " << ref[worst_at] << ", plain f32 " << plain[worst_at]
      << "); tolerance " << tol << " = " << factor << " x plain f32 error " << plain_err << " + "
      << kFloorUlps << " u x max(max|ref|, scale) " << std::max(max_ref, scale);
}

// Checks an fp64 analytic gradient against an fp64 central difference: |a - fd| <=
// rtol·max|a| per element. With step h relative to O(1) inputs the truncation error is
// O(h²·f''') ~ 1e-10 and the cancellation error O(ε64·|f|/h) ~ 1e-10, so 1e-6 is loose.
inline void expect_fd_close(const std::string& name, const std::vector<double>& analytic,
                            const std::vector<double>& fd, double rtol = 1e-6) {
  ASSERT_EQ(analytic.size(), fd.size()) << name;
  double scale = 0, worst = -1;
  std::size_t at = 0;
  for (double a : analytic) scale = std::max(scale, std::abs(a));
  for (std::size_t e = 0; e < fd.size(); ++e) {
    const double err = std::abs(analytic[e] - fd[e]);
    if (!(err <= worst)) {
      worst = std::isnan(err) ? INFINITY : err;
      at = e;
    }
  }
  EXPECT_LE(worst, rtol * std::max(scale, 1e-300))
      << name << ": analytic vs finite difference, worst at " << at << ": analytic " << analytic[at]
      << ", central difference " << fd[at] << " (scale " << scale << ")";
}

// Central-difference gradient of the scalar f(x) at x, for every element of x.
template <class F>
std::vector<double> central_difference(std::vector<double> x, F&& f, double h = 1e-5) {
  std::vector<double> g(x.size());
  for (std::size_t e = 0; e < x.size(); ++e) {
    const double x0 = x[e];
    x[e] = x0 + h;
    const double fp = f(x);
    x[e] = x0 - h;
    const double fm = f(x);
    x[e] = x0;
    g[e] = (fp - fm) / (2 * h);
  }
  return g;
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t e = 0; e < a.size(); ++e) s += a[e] * b[e];
  return s;
}

}  // namespace ody::layers::test
