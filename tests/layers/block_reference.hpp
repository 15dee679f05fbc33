#pragma once
// A plain implementation of the whole decoder block (docs/algorithms.md section 1),
// forward and backward, written independently of layers/ and kernels/: reference layers
// from reference.hpp and its own naive attention that materialises every score row.
// T = double is the truth; T = float is the plain same-precision yardstick (check.hpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "reference.hpp"

namespace ody::layers::test {

struct RefConfig {
  Z B, L, d, H, G, i;
  bool causal;
  Z Dh() const { return d / H; }
  Z T() const { return B * L; }
};

template <class T>
struct RefWeights {
  std::vector<T> attn_norm, wq, wk, wv, wo, mlp_norm, w_gate, w_up, w_down;
  // In the order of algorithms.md (and BlockWeights::tensors()).
  std::vector<std::vector<T>*> all() {
    return {&attn_norm, &wq, &wk, &wv, &wo, &mlp_norm, &w_gate, &w_up, &w_down};
  }
};

// out [B, L, H, Dh] from q [B, L, H, Dh], k, v [B, L, G, Dh]; query head h reads kv head
// h / (H/G); key j visible to query r iff !causal or pos[j] <= pos[r].
template <class T>
std::vector<T> attention_ref(const std::vector<T>& q, const std::vector<T>& k,
                             const std::vector<T>& v, const std::vector<std::int64_t>& pos,
                             const RefConfig& c) {
  const Z Dh = c.Dh(), L = c.L;
  const T scale = T(1) / std::sqrt(T(Dh));
  std::vector<T> out(c.T() * c.H * Dh, T(0)), p(L);
  for (Z b = 0; b < c.B; ++b)
    for (Z h = 0; h < c.H; ++h) {
      const Z g = h / (c.H / c.G);
      for (Z r = 0; r < L; ++r) {
        const T* qr = &q[((b * L + r) * c.H + h) * Dh];
        T m = -std::numeric_limits<T>::infinity();
        for (Z j = 0; j < L; ++j) {
          if (c.causal && pos[j] > pos[r]) {
            p[j] = -std::numeric_limits<T>::infinity();
            continue;
          }
          T s = 0;
          for (Z e = 0; e < Dh; ++e) s += qr[e] * k[((b * L + j) * c.G + g) * Dh + e];
          p[j] = s * scale;
          m = std::max(m, p[j]);
        }
        T z = 0;
        for (Z j = 0; j < L; ++j) {
          p[j] = std::isinf(p[j]) ? T(0) : std::exp(p[j] - m);
          z += p[j];
        }
        T* o = &out[((b * L + r) * c.H + h) * Dh];
        for (Z j = 0; j < L; ++j)
          for (Z e = 0; e < Dh; ++e) o[e] += p[j] / z * v[((b * L + j) * c.G + g) * Dh + e];
      }
    }
  return out;
}

// dq, dk, dv from dout: with P the probabilities of a row, dP_j = dout·v_j,
// dS_j = P_j (dP_j - Σ_l P_l dP_l), dq = scale Σ_j dS_j k_j, dk_j += scale dS_j q,
// dv_j += P_j dout.
template <class T>
void attention_bwd_ref(std::vector<T>& dq, std::vector<T>& dk, std::vector<T>& dv,
                       const std::vector<T>& dout, const std::vector<T>& q, const std::vector<T>& k,
                       const std::vector<T>& v, const std::vector<std::int64_t>& pos,
                       const RefConfig& c) {
  const Z Dh = c.Dh(), L = c.L;
  const T scale = T(1) / std::sqrt(T(Dh));
  dq.assign(c.T() * c.H * Dh, T(0));
  dk.assign(c.T() * c.G * Dh, T(0));
  dv.assign(c.T() * c.G * Dh, T(0));
  std::vector<T> p(L), dp(L);
  std::vector<bool> vis(L);
  for (Z b = 0; b < c.B; ++b)
    for (Z h = 0; h < c.H; ++h) {
      const Z g = h / (c.H / c.G);
      for (Z r = 0; r < L; ++r) {
        const Z qi = ((b * L + r) * c.H + h) * Dh;
        T m = -std::numeric_limits<T>::infinity();
        for (Z j = 0; j < L; ++j) {
          vis[j] = !(c.causal && pos[j] > pos[r]);
          if (!vis[j]) continue;
          T s = 0;
          for (Z e = 0; e < Dh; ++e) s += q[qi + e] * k[((b * L + j) * c.G + g) * Dh + e];
          p[j] = s * scale;
          m = std::max(m, p[j]);
        }
        T z = 0;
        for (Z j = 0; j < L; ++j) {
          p[j] = vis[j] ? std::exp(p[j] - m) : T(0);
          z += p[j];
        }
        T sum_pdp = 0;
        for (Z j = 0; j < L; ++j) {
          p[j] /= z;
          T s = 0;
          for (Z e = 0; e < Dh; ++e) s += dout[qi + e] * v[((b * L + j) * c.G + g) * Dh + e];
          dp[j] = s;
          sum_pdp += p[j] * dp[j];
        }
        for (Z j = 0; j < L; ++j) {
          if (!vis[j]) continue;
          const Z kj = ((b * L + j) * c.G + g) * Dh;
          const T ds = p[j] * (dp[j] - sum_pdp);
          for (Z e = 0; e < Dh; ++e) {
            dq[qi + e] += scale * ds * k[kj + e];
            dk[kj + e] += scale * ds * q[qi + e];
            dv[kj + e] += p[j] * dout[qi + e];
          }
        }
      }
    }
}

template <class T>
struct RefResult {
  std::vector<T> y, dx;
  RefWeights<T> grads;  // same names, holding the gradients
};

// Forward only (for finite differences).
template <class T>
std::vector<T> block_forward_ref(const RefConfig& c, const std::vector<T>& x,
                                 const RefWeights<T>& w, const std::vector<std::int64_t>& pos) {
  const Z T_ = c.T(), d = c.d, hq = c.H * c.Dh(), hk = c.G * c.Dh();
  std::vector<T> u1, r1, u2, r2;
  rmsnorm_ref(u1, r1, x, w.attn_norm, T_, d);
  const auto q = rope_ref(linear_ref(u1, w.wq, T_, d, hq), pos, c.B, c.L, c.H, c.Dh());
  const auto k = rope_ref(linear_ref(u1, w.wk, T_, d, hk), pos, c.B, c.L, c.G, c.Dh());
  const auto v = linear_ref(u1, w.wv, T_, d, hk);
  const auto o = attention_ref(q, k, v, pos, c);
  auto h = linear_ref(o, w.wo, T_, hq, d);
  for (Z e = 0; e < h.size(); ++e) h[e] += x[e];
  rmsnorm_ref(u2, r2, h, w.mlp_norm, T_, d);
  const auto act =
      swiglu_ref(linear_ref(u2, w.w_gate, T_, d, c.i), linear_ref(u2, w.w_up, T_, d, c.i));
  auto y = linear_ref(act, w.w_down, T_, c.i, d);
  for (Z e = 0; e < y.size(); ++e) y[e] += h[e];
  return y;
}

template <class T>
RefResult<T> block_reference(const RefConfig& c, const std::vector<T>& x, const std::vector<T>& dy,
                             const RefWeights<T>& w, const std::vector<std::int64_t>& pos) {
  const Z T_ = c.T(), d = c.d, hq = c.H * c.Dh(), hk = c.G * c.Dh(), i = c.i;
  RefResult<T> r;
  // forward, keeping every intermediate
  std::vector<T> u1, r1, u2, r2;
  rmsnorm_ref(u1, r1, x, w.attn_norm, T_, d);
  const auto q = rope_ref(linear_ref(u1, w.wq, T_, d, hq), pos, c.B, c.L, c.H, c.Dh());
  const auto k = rope_ref(linear_ref(u1, w.wk, T_, d, hk), pos, c.B, c.L, c.G, c.Dh());
  const auto v = linear_ref(u1, w.wv, T_, d, hk);
  const auto o = attention_ref(q, k, v, pos, c);
  auto h = linear_ref(o, w.wo, T_, hq, d);
  for (Z e = 0; e < h.size(); ++e) h[e] += x[e];
  rmsnorm_ref(u2, r2, h, w.mlp_norm, T_, d);
  const auto gate = linear_ref(u2, w.w_gate, T_, d, i), up = linear_ref(u2, w.w_up, T_, d, i);
  const auto act = swiglu_ref(gate, up);
  r.y = linear_ref(act, w.w_down, T_, i, d);
  for (Z e = 0; e < r.y.size(); ++e) r.y[e] += h[e];

  // backward: MLP branch
  auto& g = r.grads;
  const auto dact = linear_dx_ref(dy, w.w_down, T_, i, d);
  g.w_down = linear_dw_ref(dy, act, T_, i, d);
  std::vector<T> dgate, dup;
  swiglu_bwd_ref(dgate, dup, dact, gate, up);
  g.w_gate = linear_dw_ref(dgate, u2, T_, d, i);
  g.w_up = linear_dw_ref(dup, u2, T_, d, i);
  auto du2 = linear_dx_ref(dgate, w.w_gate, T_, d, i);
  const auto du2b = linear_dx_ref(dup, w.w_up, T_, d, i);
  for (Z e = 0; e < du2.size(); ++e) du2[e] += du2b[e];
  std::vector<T> dh_norm;
  rmsnorm_bwd_ref(dh_norm, g.mlp_norm, du2, h, w.mlp_norm, r2, T_, d);
  std::vector<T> dh = dy;
  for (Z e = 0; e < dh.size(); ++e) dh[e] += dh_norm[e];
  // attention branch
  const auto dout = linear_dx_ref(dh, w.wo, T_, hq, d);
  g.wo = linear_dw_ref(dh, o, T_, hq, d);
  std::vector<T> dqr, dkr, dv;
  attention_bwd_ref(dqr, dkr, dv, dout, q, k, v, pos, c);
  const auto dq = rope_ref(dqr, pos, c.B, c.L, c.H, c.Dh(), -1.0);
  const auto dk = rope_ref(dkr, pos, c.B, c.L, c.G, c.Dh(), -1.0);
  g.wq = linear_dw_ref(dq, u1, T_, d, hq);
  g.wk = linear_dw_ref(dk, u1, T_, d, hk);
  g.wv = linear_dw_ref(dv, u1, T_, d, hk);
  auto du1 = linear_dx_ref(dq, w.wq, T_, d, hq);
  const auto du1k = linear_dx_ref(dk, w.wk, T_, d, hk), du1v = linear_dx_ref(dv, w.wv, T_, d, hk);
  for (Z e = 0; e < du1.size(); ++e) du1[e] += du1k[e] + du1v[e];
  std::vector<T> dx_norm;
  rmsnorm_bwd_ref(dx_norm, g.attn_norm, du1, x, w.attn_norm, r1, T_, d);
  r.dx = dh;
  for (Z e = 0; e < r.dx.size(); ++e) r.dx[e] += dx_norm[e];
  return r;
}

}  // namespace ody::layers::test
