#pragma once
// Shared by the CPU and CUDA attention tests: seeded inputs, position layouts, the fp64
// and plain-fp32 references, and the derived-tolerance comparison.
//
// Tolerance rule (flash-attention's; the house style): for each output X,
//   max|X_kernel - X_fp64|  <=  kMultiple * max|X_plain32 - X_fp64|  +  floor
// where X_plain32 is the plain fp32 implementation (kernels/attention_reference, Acc =
// float) on the SAME inputs (bf16 inputs are rounded once, and every implementation
// sees the rounded values). The kernel sums in another order (tiles, online softmax,
// a polynomial exp2 of ~2 ulp), so its error is of the same order as the plain one but
// not equal: kMultiple = 4. The floor covers cases where the plain error happens to be
// ~0 (L = 1, a single visible key): summation over Lk terms in fp32 gives a relative
// error ~ eps32 * sqrt(Lk) on average; we allow 8 * eps32 * sqrt(Lk + Dh) * max|X_fp64|,
// plus, for a bf16 output, its final rounding: 2^-8 * max|X_fp64| (half an ulp of an
// 8-bit significand is 2^-9 relative, doubled for margin).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "base/half.hpp"
#include "kernels/attention.hpp"
#include "kernels/attention_reference.hpp"

namespace ody::kernels::test {

constexpr double kMultiple = 4.0;
constexpr double kEps32 = 5.960464477539063e-08;  // 2^-24, unit roundoff of fp32
constexpr double kBf16Rounding = 1.0 / 256;       // 2^-8: see the rule above

inline std::vector<std::int64_t> contiguous_positions(std::int64_t first, std::int64_t n) {
  std::vector<std::int64_t> p(static_cast<size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) p[static_cast<size_t>(i)] = first + i;
  return p;
}
// Zigzag: L global tokens in 2N chunks; rank r holds chunk r, then chunk 2N-1-r.
inline std::vector<std::int64_t> zigzag_positions(std::int64_t r, std::int64_t n_ranks,
                                                  std::int64_t len) {
  const std::int64_t c = len / (2 * n_ranks);
  std::vector<std::int64_t> p;
  for (std::int64_t i = 0; i < c; ++i) p.push_back(r * c + i);
  for (std::int64_t i = 0; i < c; ++i) p.push_back((2 * n_ranks - 1 - r) * c + i);
  return p;
}
// Stripe: token t on rank t mod N.
inline std::vector<std::int64_t> strided_positions(std::int64_t r, std::int64_t n_ranks,
                                                   std::int64_t len) {
  std::vector<std::int64_t> p;
  for (std::int64_t t = r; t < len; t += n_ranks) p.push_back(t);
  return p;
}

inline std::vector<float> random_values(std::size_t n, unsigned seed, float sigma = 1.f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}
inline std::vector<float> round_bf16(std::vector<float> v) {
  for (auto& x : v) x = static_cast<float>(ody::bf16(x));
  return v;
}
inline std::vector<ody::bf16> to_bf16(const std::vector<float>& v) {
  std::vector<ody::bf16> o(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) o[i] = ody::bf16(v[i]);
  return o;
}
template <class X>
std::vector<double> to_f64(const std::vector<X>& v) {
  std::vector<double> o(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) o[i] = static_cast<double>(static_cast<float>(v[i]));
  return o;
}

// One test problem: shapes, positions and seeded inputs (fp32 values, already rounded to
// bf16 when bf16 is true, so every implementation sees the same numbers).
struct Problem {
  std::string name;
  AttentionShape shape;
  AttentionOptions options;
  std::vector<std::int64_t> pos_q, pos_k;
  bool bf16 = false;
  std::vector<float> q, k, v, dout;

  std::size_t q_elems() const {
    return static_cast<size_t>(shape.batch * shape.len_q * shape.heads_q * shape.head_dim);
  }
  std::size_t k_elems() const {
    return static_cast<size_t>(shape.batch * shape.len_k * shape.heads_k * shape.head_dim);
  }
  std::size_t lse_elems() const {
    return static_cast<size_t>(shape.batch * shape.heads_q * shape.len_q);
  }
};

inline Problem make_problem(std::string name, AttentionShape s, bool causal,
                            std::vector<std::int64_t> pos_q, std::vector<std::int64_t> pos_k,
                            bool bf16 = false, unsigned seed = 1, float scale = 0.f) {
  Problem p;
  p.name = std::move(name);
  p.shape = s;
  p.options.causal = causal;
  p.options.scale = scale;
  p.pos_q = std::move(pos_q);
  p.pos_k = std::move(pos_k);
  p.bf16 = bf16;
  // Queries a little larger than unit so the softmax is not flat (scores ~ N(0, 2.25)).
  p.q = random_values(p.q_elems(), seed * 4 + 0, 1.5f);
  p.k = random_values(p.k_elems(), seed * 4 + 1);
  p.v = random_values(p.k_elems(), seed * 4 + 2);
  p.dout = random_values(p.q_elems(), seed * 4 + 3);
  if (bf16) {
    p.q = round_bf16(p.q);
    p.k = round_bf16(p.k);
    p.v = round_bf16(p.v);
    p.dout = round_bf16(p.dout);
  }
  return p;
}

// fp64 reference and plain fp32 results of a problem.
struct Expected {
  std::vector<double> out, lse, dq, dk, dv;
};
inline Expected reference64(const Problem& p, bool with_backward) {
  Expected e;
  const auto q = to_f64(p.q), k = to_f64(p.k), v = to_f64(p.v), dout = to_f64(p.dout);
  e.out.resize(p.q_elems());
  e.lse.resize(p.lse_elems());
  reference_attention_forward<double>(e.out.data(), e.lse.data(), q.data(), k.data(), v.data(),
                                      p.pos_q.data(), p.pos_k.data(), p.shape, p.options);
  if (with_backward) {
    e.dq.resize(p.q_elems());
    e.dk.resize(p.k_elems());
    e.dv.resize(p.k_elems());
    reference_attention_backward<double>(e.dq.data(), e.dk.data(), e.dv.data(), dout.data(),
                                         q.data(), k.data(), v.data(), p.pos_q.data(),
                                         p.pos_k.data(), p.shape, p.options);
  }
  return e;
}
inline Expected plain32(const Problem& p, bool with_backward) {
  std::vector<float> out(p.q_elems()), lse(p.lse_elems());
  reference_attention_forward<float>(out.data(), lse.data(), p.q.data(), p.k.data(), p.v.data(),
                                     p.pos_q.data(), p.pos_k.data(), p.shape, p.options);
  Expected e;
  e.out = to_f64(out);
  e.lse = to_f64(lse);
  if (with_backward) {
    std::vector<float> dq(p.q_elems()), dk(p.k_elems()), dv(p.k_elems());
    reference_attention_backward<float>(dq.data(), dk.data(), dv.data(), p.dout.data(), p.q.data(),
                                        p.k.data(), p.v.data(), p.pos_q.data(), p.pos_k.data(),
                                        p.shape, p.options);
    e.dq = to_f64(dq);
    e.dk = to_f64(dk);
    e.dv = to_f64(dv);
  }
  return e;
}

// |a - b| with equal infinities (an empty row's lse = -inf) counting as 0 and any NaN or
// mismatched infinity as +inf.
inline double abs_diff(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return INFINITY;
  if (std::isinf(a) || std::isinf(b)) return a == b ? 0.0 : INFINITY;
  return std::fabs(a - b);
}
inline double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, abs_diff(a[i], b[i]));
  return m;
}
inline double max_abs_finite(const std::vector<double>& a) {
  double m = 0;
  for (double x : a)
    if (std::isfinite(x)) m = std::max(m, std::fabs(x));
  return m;
}

// Tolerance for X by the rule at the top of this file.
// magnitude: the scale of the floor; by default max|X_fp64|. Gradients pass the largest
// of max|dq|, max|dk|, max|dv|: dS = P (dP - D) cancels terms of size |dout||v|, so a
// gradient that is ~0 exactly (one visible key: dq = dk = 0) still carries rounding of
// that size.
inline double derived_tolerance(const std::vector<double>& ref64, const std::vector<double>& plain,
                                std::int64_t len_k, std::int64_t head_dim, bool bf16_output,
                                double magnitude = 0) {
  const double mag = std::max({max_abs_finite(ref64), magnitude, 1e-30});
  double floor = 8 * kEps32 * std::sqrt(static_cast<double>(len_k + head_dim)) * mag;
  if (bf16_output) floor += kBf16Rounding * mag;
  return kMultiple * max_abs_diff(plain, ref64) + floor;
}

// dims: the tensor's shape (for printing the worst element's multi-index).
inline ::testing::AssertionResult all_close(const std::string& what, const std::vector<double>& got,
                                            const std::vector<double>& ref, double tol,
                                            std::vector<std::int64_t> dims) {
  if (got.size() != ref.size())
    return ::testing::AssertionFailure() << what << ": size " << got.size() << " vs " << ref.size();
  double worst = -1;
  std::size_t wi = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double d = abs_diff(got[i], ref[i]);
    if (d > worst) {
      worst = d;
      wi = i;
    }
  }
  if (got.empty() || worst <= tol) return ::testing::AssertionSuccess();
  std::ostringstream idx;
  std::size_t rem = wi;
  std::vector<std::int64_t> multi(dims.size());
  for (std::size_t d = dims.size(); d-- > 0;) {
    multi[d] = static_cast<std::int64_t>(rem % static_cast<std::size_t>(dims[d]));
    rem /= static_cast<std::size_t>(dims[d]);
  }
  for (std::size_t d = 0; d < multi.size(); ++d) idx << (d ? "," : "") << multi[d];
  return ::testing::AssertionFailure()
         << what << ": worst |got - ref| = " << worst << " > tol " << tol << " at flat " << wi
         << " [" << idx.str() << "]: got " << got[wi] << ", ref " << ref[wi];
}

inline std::vector<std::int64_t> q_dims(const AttentionShape& s) {
  return {s.batch, s.len_q, s.heads_q, s.head_dim};
}
inline std::vector<std::int64_t> k_dims(const AttentionShape& s) {
  return {s.batch, s.len_k, s.heads_k, s.head_dim};
}
inline std::vector<std::int64_t> lse_dims(const AttentionShape& s) {
  return {s.batch, s.heads_q, s.len_q};
}

// The problems both the CPU and the CUDA tests run (what breaks attention kernels).
inline std::vector<Problem> standard_problems() {
  std::vector<Problem> v;
  auto shape = [](std::int64_t b, std::int64_t lq, std::int64_t lk, std::int64_t hq,
                  std::int64_t hk, std::int64_t dh) {
    AttentionShape s;
    s.batch = b;
    s.len_q = lq;
    s.len_k = lk;
    s.heads_q = hq;
    s.heads_k = hk;
    s.head_dim = dh;
    return s;
  };
  auto cont = contiguous_positions;
  v.push_back(
      make_problem("dense_dh64", shape(1, 64, 64, 1, 1, 64), false, cont(0, 64), cont(0, 64)));
  v.push_back(make_problem("causal_dh64_L200", shape(1, 200, 200, 2, 2, 64), true, cont(0, 200),
                           cont(0, 200)));
  v.push_back(make_problem("causal_gqa2_dh128_L150", shape(1, 150, 150, 4, 2, 128), true,
                           cont(0, 150), cont(0, 150)));
  v.push_back(make_problem("causal_gqa4_hk1_dh40_L97", shape(1, 97, 97, 4, 1, 40), true,
                           cont(0, 97), cont(0, 97)));
  v.push_back(make_problem("dense_lq33_lk300_b2", shape(2, 33, 300, 2, 1, 64), false, cont(0, 33),
                           cont(0, 300)));
  v.push_back(make_problem("causal_lq33_lk300_lastq", shape(1, 33, 300, 2, 2, 64), true,
                           cont(267, 33), cont(0, 300)));
  v.push_back(make_problem("L1", shape(1, 1, 1, 2, 1, 64), true, cont(0, 1), cont(0, 1)));
  v.push_back(make_problem("L1_query_many_keys", shape(1, 1, 77, 1, 1, 64), true, cont(76, 1),
                           cont(0, 77)));
  {  // zigzag ring step: rank 0's queries against rank 1's key block (N = 2, L = 1024)
    v.push_back(make_problem("zigzag_q0_k1", shape(1, 512, 512, 2, 1, 64), true,
                             zigzag_positions(0, 2, 1024), zigzag_positions(1, 2, 1024)));
    v.push_back(make_problem("zigzag_q1_k1", shape(1, 512, 512, 1, 1, 128), true,
                             zigzag_positions(1, 2, 1024), zigzag_positions(1, 2, 1024)));
  }
  v.push_back(make_problem("strided_q1_k2_N3", shape(1, 150, 150, 2, 2, 64), true,
                           strided_positions(1, 3, 450), strided_positions(2, 3, 450)));
  v.push_back(
      make_problem("masked_rows", shape(1, 10, 100, 2, 1, 64), true, cont(0, 10), cont(5, 100)));
  v.push_back(
      make_problem("all_masked", shape(1, 7, 20, 1, 1, 64), true, cont(0, 7), cont(100, 20)));
  v.push_back(make_problem("odd_b3_lq77_lk131_gqa3_dh40", shape(3, 77, 131, 3, 1, 40), false,
                           cont(0, 77), cont(0, 131)));
  v.push_back(make_problem("scale_override", shape(1, 65, 65, 2, 1, 64), true, cont(0, 65),
                           cont(0, 65), false, 7, 0.3f));
  v.push_back(make_problem("bf16_causal_gqa2_dh128_L130", shape(1, 130, 130, 4, 2, 128), true,
                           cont(0, 130), cont(0, 130), true, 3));
  v.push_back(make_problem("bf16_zigzag_dh64", shape(1, 256, 256, 2, 1, 64), true,
                           zigzag_positions(1, 4, 1024), zigzag_positions(2, 4, 1024), true, 5));
  v.push_back(make_problem("bf16_dense_dh40_lq31_lk45", shape(2, 31, 45, 2, 2, 40), false,
                           cont(0, 31), cont(0, 45), true, 9));
  // Packed documents (options.doc_starts; static: the span must outlive the problems):
  // a one-token document, documents across tile edges, a zigzag ring step, bf16, dense.
  static const std::vector<std::int64_t> docs200{0, 37, 38, 150}, docs120{0, 64, 100},
      docs1024{0, 100, 101, 700}, docs_one{0};
  auto packed = [&](Problem p, const std::vector<std::int64_t>& docs) {
    p.options.doc_starts = docs.data();
    p.options.num_docs = std::int64_t(docs.size());
    v.push_back(std::move(p));
  };
  packed(make_problem("docs_causal_dh64_L200", shape(1, 200, 200, 2, 1, 64), true, cont(0, 200),
                      cont(0, 200)),
         docs200);
  packed(make_problem("docs_dense_b2_L120", shape(2, 120, 120, 2, 2, 64), false, cont(0, 120),
                      cont(0, 120)),
         docs120);
  packed(make_problem("docs_zigzag_q0_k1", shape(1, 512, 512, 2, 1, 64), true,
                      zigzag_positions(0, 2, 1024), zigzag_positions(1, 2, 1024)),
         docs1024);
  packed(make_problem("docs_zigzag_q1_k1_dense", shape(1, 512, 512, 2, 2, 64), false,
                      zigzag_positions(1, 2, 1024), zigzag_positions(1, 2, 1024)),
         docs1024);
  packed(make_problem("docs_bf16_causal_gqa2_L130", shape(1, 130, 130, 4, 2, 128), true,
                      cont(0, 130), cont(0, 130), true, 3),
         docs200);
  packed(
      make_problem("docs_one_document", shape(1, 65, 65, 2, 1, 64), true, cont(0, 65), cont(0, 65)),
      docs_one);
  return v;
}

// Element conversions of the CUDA kernels' tests (tests/kernels/attention_cuda_test.cpp
// and the standalone GPU check, gpu/attention_cuda_check.cpp): to the kernel's input type,
// values rounded to a type and back, and the type's unit roundoff.
template <class X>
std::vector<X> convert(const std::vector<float>& v) {
  std::vector<X> o(v.size());
  for (size_t i = 0; i < v.size(); ++i) o[i] = X(v[i]);
  return o;
}
template <class X>
std::vector<float> round_to(std::vector<float> v) {
  for (auto& x : v) x = static_cast<float>(X(x));
  return v;
}
template <class T>
double unit_roundoff() {
  return std::is_same_v<T, ody::bf16> ? 1.0 / 128 : 1.0 / 1024;  // machine epsilon
}

}  // namespace ody::kernels::test
