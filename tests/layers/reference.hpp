#pragma once
// Plain reference layers for the tests, written independently of layers/ (no Kokkos, no
// BLAS, the most direct loops). Templated on the scalar: T = double is the truth, T =
// float is the "plain same-precision implementation" whose error sets the tolerance
// (check.hpp). All tensors are row-major std::vectors; shapes are in the comments.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ody::layers::test {

using Z = std::size_t;

// y [T, d] = x / sqrt(mean(x²) + eps) · w; rstd [T]
template <class T>
void rmsnorm_ref(std::vector<T>& y, std::vector<T>& rstd, const std::vector<T>& x,
                 const std::vector<T>& w, Z rows, Z d, double eps = 1e-5) {
  y.assign(rows * d, T(0));
  rstd.assign(rows, T(0));
  for (Z t = 0; t < rows; ++t) {
    T ss = 0;
    for (Z j = 0; j < d; ++j) ss += x[t * d + j] * x[t * d + j];
    const T r = T(1) / std::sqrt(ss / T(d) + T(eps));
    rstd[t] = r;
    for (Z j = 0; j < d; ++j) y[t * d + j] = x[t * d + j] * r * w[j];
  }
}

// dx [T, d] = ∂/∂x Σ dy·y, dw [d] = Σ over rows.
// y_j = x_j r w_j, r = (Σx²/d + eps)^-1/2, ∂r/∂x_k = -r³ x_k / d.
template <class T>
void rmsnorm_bwd_ref(std::vector<T>& dx, std::vector<T>& dw, const std::vector<T>& dy,
                     const std::vector<T>& x, const std::vector<T>& w, const std::vector<T>& rstd,
                     Z rows, Z d) {
  dx.assign(rows * d, T(0));
  dw.assign(d, T(0));
  for (Z t = 0; t < rows; ++t) {
    const T r = rstd[t];
    T s = 0;
    for (Z j = 0; j < d; ++j) s += dy[t * d + j] * w[j] * x[t * d + j];
    for (Z k = 0; k < d; ++k)
      dx[t * d + k] = r * dy[t * d + k] * w[k] - r * r * r * x[t * d + k] * s / T(d);
    for (Z j = 0; j < d; ++j) dw[j] += dy[t * d + j] * x[t * d + j] * r;
  }
}

// RoPE on x [B, L, nh, Dh] with positions pos [L]; sign -1 rotates back (the backward).
// Angles in double in both instantiations, rounded to T once.
template <class T>
std::vector<T> rope_ref(const std::vector<T>& x, const std::vector<std::int64_t>& pos, Z B, Z L,
                        Z nh, Z Dh, double sign = 1.0, double theta = 10000.0) {
  std::vector<T> y(x.size());
  const Z half = Dh / 2;
  for (Z b = 0; b < B; ++b)
    for (Z l = 0; l < L; ++l)
      for (Z h = 0; h < nh; ++h)
        for (Z j = 0; j < half; ++j) {
          const double angle = double(pos[l]) / std::pow(theta, double(2 * j) / double(Dh));
          const T c = T(std::cos(angle)), s = T(sign * std::sin(angle));
          const Z base = ((b * L + l) * nh + h) * Dh;
          const T x1 = x[base + j], x2 = x[base + j + half];
          y[base + j] = x1 * c - x2 * s;
          y[base + j + half] = x2 * c + x1 * s;
        }
  return y;
}

// y [T, out] = x [T, in] · W [out, in]ᵀ
template <class T>
std::vector<T> linear_ref(const std::vector<T>& x, const std::vector<T>& w, Z rows, Z in, Z out) {
  std::vector<T> y(rows * out, T(0));
  for (Z t = 0; t < rows; ++t)
    for (Z o = 0; o < out; ++o) {
      T s = 0;
      for (Z k = 0; k < in; ++k) s += x[t * in + k] * w[o * in + k];
      y[t * out + o] = s;
    }
  return y;
}
// dx [T, in] = dy · W
template <class T>
std::vector<T> linear_dx_ref(const std::vector<T>& dy, const std::vector<T>& w, Z rows, Z in,
                             Z out) {
  std::vector<T> dx(rows * in, T(0));
  for (Z t = 0; t < rows; ++t)
    for (Z k = 0; k < in; ++k) {
      T s = 0;
      for (Z o = 0; o < out; ++o) s += dy[t * out + o] * w[o * in + k];
      dx[t * in + k] = s;
    }
  return dx;
}
// dW [out, in] = dyᵀ · x (sum over tokens)
template <class T>
std::vector<T> linear_dw_ref(const std::vector<T>& dy, const std::vector<T>& x, Z rows, Z in,
                             Z out) {
  std::vector<T> dw(out * in, T(0));
  for (Z o = 0; o < out; ++o)
    for (Z k = 0; k < in; ++k) {
      T s = 0;
      for (Z t = 0; t < rows; ++t) s += dy[t * out + o] * x[t * in + k];
      dw[o * in + k] = s;
    }
  return dw;
}

template <class T>
T sigmoid_ref(T a) {
  return T(1) / (T(1) + std::exp(-a));
}
// act = silu(gate)·up
template <class T>
std::vector<T> swiglu_ref(const std::vector<T>& gate, const std::vector<T>& up) {
  std::vector<T> a(gate.size());
  for (Z e = 0; e < a.size(); ++e) a[e] = gate[e] * sigmoid_ref(gate[e]) * up[e];
  return a;
}
template <class T>
void swiglu_bwd_ref(std::vector<T>& dgate, std::vector<T>& dup, const std::vector<T>& dact,
                    const std::vector<T>& gate, const std::vector<T>& up) {
  dgate.resize(gate.size());
  dup.resize(gate.size());
  for (Z e = 0; e < gate.size(); ++e) {
    const T s = sigmoid_ref(gate[e]);
    dgate[e] = dact[e] * up[e] * (s + gate[e] * s * (T(1) - s));
    dup[e] = dact[e] * gate[e] * s;
  }
}

}  // namespace ody::layers::test
