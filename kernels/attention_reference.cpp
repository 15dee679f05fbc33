#include "kernels/attention_reference.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace ody::kernels {
namespace {

using std::int64_t;

struct Idx {  // contiguous [B, L, H, Dh] offsets
  int64_t L, H, Dh;
  int64_t operator()(int64_t b, int64_t i, int64_t h) const { return ((b * L + i) * H + h) * Dh; }
};

// The document of global position p: how many document starts are at or before it (a
// plain count, not the kernel's search).
int64_t document(const AttentionOptions& o, int64_t p) {
  int64_t n = 0;
  for (int64_t j = 0; j < o.num_docs; ++j) n += o.doc_starts[j] <= p;
  return n;
}

// P [Lq, Lk] of head (b, h): softmax of the scaled, masked scores; returns lse per row.
template <class Acc>
void probabilities(std::vector<Acc>& p, std::vector<Acc>& row_lse, const Acc* q, const Acc* k,
                   int64_t b, int64_t h, const int64_t* pos_q, const int64_t* pos_k,
                   const AttentionShape& s, const AttentionOptions& o) {
  const Idx iq{s.len_q, s.heads_q, s.head_dim}, ik{s.len_k, s.heads_k, s.head_dim};
  const int64_t hk = h / (s.heads_q / s.heads_k);
  const Acc scale = o.scale > 0 ? Acc(o.scale) : Acc(1) / std::sqrt(Acc(s.head_dim));
  p.assign(static_cast<size_t>(s.len_q * s.len_k), Acc(0));
  row_lse.assign(static_cast<size_t>(s.len_q), -std::numeric_limits<Acc>::infinity());
  for (int64_t i = 0; i < s.len_q; ++i) {
    Acc* pr = p.data() + i * s.len_k;
    Acc mx = -std::numeric_limits<Acc>::infinity();
    for (int64_t j = 0; j < s.len_k; ++j) {
      if ((o.causal && pos_k[j] > pos_q[i]) || document(o, pos_k[j]) != document(o, pos_q[i])) {
        pr[j] = -std::numeric_limits<Acc>::infinity();
        continue;
      }
      Acc dot = 0;
      for (int64_t d = 0; d < s.head_dim; ++d) dot += q[iq(b, i, h) + d] * k[ik(b, j, hk) + d];
      pr[j] = scale * dot;
      mx = std::max(mx, pr[j]);
    }
    if (mx == -std::numeric_limits<Acc>::infinity()) {  // no visible key
      std::fill(pr, pr + s.len_k, Acc(0));
      continue;
    }
    Acc sum = 0;
    for (int64_t j = 0; j < s.len_k; ++j) {
      pr[j] = std::exp(pr[j] - mx);  // exp(-inf) = 0 for masked keys
      sum += pr[j];
    }
    for (int64_t j = 0; j < s.len_k; ++j) pr[j] /= sum;
    row_lse[i] = mx + std::log(sum);
  }
}

}  // namespace

template <class Acc>
void reference_attention_forward(Acc* out, Acc* lse, const Acc* q, const Acc* k, const Acc* v,
                                 const int64_t* pos_q, const int64_t* pos_k,
                                 const AttentionShape& s, const AttentionOptions& o) {
  const Idx iq{s.len_q, s.heads_q, s.head_dim}, ik{s.len_k, s.heads_k, s.head_dim};
  std::vector<Acc> p, row_lse;
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.heads_q; ++h) {
      const int64_t hk = h / (s.heads_q / s.heads_k);
      probabilities(p, row_lse, q, k, b, h, pos_q, pos_k, s, o);
      for (int64_t i = 0; i < s.len_q; ++i) {
        lse[(b * s.heads_q + h) * s.len_q + i] = row_lse[static_cast<size_t>(i)];
        for (int64_t d = 0; d < s.head_dim; ++d) {
          Acc acc = 0;
          for (int64_t j = 0; j < s.len_k; ++j)
            acc += p[static_cast<size_t>(i * s.len_k + j)] * v[ik(b, j, hk) + d];
          out[iq(b, i, h) + d] = acc;
        }
      }
    }
}

template <class Acc>
void reference_attention_backward(Acc* dq, Acc* dk, Acc* dv, const Acc* dout, const Acc* q,
                                  const Acc* k, const Acc* v, const int64_t* pos_q,
                                  const int64_t* pos_k, const AttentionShape& s,
                                  const AttentionOptions& o) {
  const Idx iq{s.len_q, s.heads_q, s.head_dim}, ik{s.len_k, s.heads_k, s.head_dim};
  const Acc scale = o.scale > 0 ? Acc(o.scale) : Acc(1) / std::sqrt(Acc(s.head_dim));
  std::fill(dq, dq + s.batch * s.len_q * s.heads_q * s.head_dim, Acc(0));
  std::fill(dk, dk + s.batch * s.len_k * s.heads_k * s.head_dim, Acc(0));
  std::fill(dv, dv + s.batch * s.len_k * s.heads_k * s.head_dim, Acc(0));
  std::vector<Acc> p, row_lse, ds(static_cast<size_t>(s.len_k));
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.heads_q; ++h) {
      const int64_t hk = h / (s.heads_q / s.heads_k);
      probabilities(p, row_lse, q, k, b, h, pos_q, pos_k, s, o);
      for (int64_t i = 0; i < s.len_q; ++i) {
        const Acc* pr = p.data() + i * s.len_k;
        const Acc* dor = dout + iq(b, i, h);
        Acc D = 0;
        for (int64_t j = 0; j < s.len_k; ++j) {
          Acc dp = 0;  // (dout v^T)[i, j]
          for (int64_t d = 0; d < s.head_dim; ++d) dp += dor[d] * v[ik(b, j, hk) + d];
          ds[static_cast<size_t>(j)] = dp;
          D += pr[j] * dp;
        }
        for (int64_t j = 0; j < s.len_k; ++j) {
          const Acc g = pr[j] * (ds[static_cast<size_t>(j)] - D);  // dL/ds_ij
          for (int64_t d = 0; d < s.head_dim; ++d) {
            dq[iq(b, i, h) + d] += scale * g * k[ik(b, j, hk) + d];
            dk[ik(b, j, hk) + d] += scale * g * q[iq(b, i, h) + d];
            dv[ik(b, j, hk) + d] += pr[j] * dor[d];
          }
        }
      }
    }
}

template void reference_attention_forward<double>(double*, double*, const double*, const double*,
                                                  const double*, const int64_t*, const int64_t*,
                                                  const AttentionShape&, const AttentionOptions&);
template void reference_attention_forward<float>(float*, float*, const float*, const float*,
                                                 const float*, const int64_t*, const int64_t*,
                                                 const AttentionShape&, const AttentionOptions&);
template void reference_attention_backward<double>(double*, double*, double*, const double*,
                                                   const double*, const double*, const double*,
                                                   const int64_t*, const int64_t*,
                                                   const AttentionShape&, const AttentionOptions&);
template void reference_attention_backward<float>(float*, float*, float*, const float*,
                                                  const float*, const float*, const float*,
                                                  const int64_t*, const int64_t*,
                                                  const AttentionShape&, const AttentionOptions&);

}  // namespace ody::kernels
