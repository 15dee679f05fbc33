#include "strategies/block_parts.hpp"

#include <algorithm>
#include <vector>

#include "layers/documents.hpp"
#include "layers/linear.hpp"
#include "layers/rmsnorm.hpp"
#include "layers/rope.hpp"
#include "layers/row_blocked_mlp.hpp"

namespace ody::strategies::parts {

using namespace layers;
using Z = std::int64_t;

Span1<const Pos> rope_pos(const BlockConfig& c, const Pos* pos, Z n, std::vector<Pos>& store) {
  if (c.doc_starts.empty()) return Span1<const Pos>(pos, n);
  store.resize(n);
  rope_positions(c.doc_starts, pos, n, store.data());
  return Span1<const Pos>(store.data(), n);
}

void qkv_forward(const BlockConfig& c, const Tokens& t, const BlockWeights& w, Span2<const float> x,
                 Span2<float> u, Span1<float> rstd, float* q, float* k, float* v) {
  const Z T = t.T(), Dh = c.head_dim();
  rmsnorm_forward(u, rstd, x, w.attn_norm);
  linear_forward(Span2<float>(q, T, c.H * Dh), Mat<const float>(u), w.wq);
  linear_forward(Span2<float>(k, T, c.G * Dh), Mat<const float>(u), w.wk);
  linear_forward(Span2<float>(v, T, c.G * Dh), Mat<const float>(u), w.wv);
  std::vector<Pos> store;
  const Span1<const Pos> pos = rope_pos(c, t.pos, t.Ll, store);
  const Span4<float> q4(q, t.B, t.Ll, c.H, Dh), k4(k, t.B, t.Ll, c.G, Dh);
  rope_forward(q4, q4, pos);
  rope_forward(k4, k4, pos);
}

void qkv_backward(const BlockConfig& c, const Tokens& t, const BlockWeights& w, const BlockGrads& g,
                  float* dq, float* dk, const float* dv, Span2<const float> u, Span2<const float> x,
                  Span1<const float> rstd, Span2<float> du, Span2<float> dh) {
  const Z T = t.T(), Dh = c.head_dim();
  std::vector<Pos> store;
  const Span1<const Pos> pos = rope_pos(c, t.pos, t.Ll, store);
  const Span4<float> dq4(dq, t.B, t.Ll, c.H, Dh), dk4(dk, t.B, t.Ll, c.G, Dh);
  rope_backward(dq4, dq4, pos);
  rope_backward(dk4, dk4, pos);
  const Mat<float> du_m(du);
  const Mat<const float> u_m(u);
  linear_backward(du_m, Mat<float>(g.dwq), Mat<const float>(Span2<const float>(dq, T, c.H * Dh)),
                  u_m, w.wq);
  linear_backward(du_m, Mat<float>(g.dwk), Mat<const float>(Span2<const float>(dk, T, c.G * Dh)),
                  u_m, w.wk, Accum::kAdd);
  linear_backward(du_m, Mat<float>(g.dwv), Mat<const float>(Span2<const float>(dv, T, c.G * Dh)),
                  u_m, w.wv, Accum::kAdd);
  rmsnorm_backward(dh, g.dattn_norm, Span2<const float>(du), x, w.attn_norm, rstd, Accum::kAdd,
                   Accum::kOverwrite);
}

void out_proj_forward(const BlockConfig& c, const BlockWeights& w, const float* o,
                      Span2<const float> x, Span2<float> h) {
  const Z T = x.extent(0);
  std::copy_n(x.data(), T * c.d, h.data());
  linear_forward(Mat<float>(h), Mat<const float>(Span2<const float>(o, T, c.H * c.head_dim())),
                 w.wo, Accum::kAdd);
}

void mlp_forward(const BlockConfig& c, Z T, const BlockWeights& w, const float* h, float* gate,
                 float* up, float* rstd2, float* y) {
  mlp_up_forward(gate, up, rstd2, h, T, c.d, c.ffn, w.mlp_norm, Mat<const float>(w.w_gate),
                 Mat<const float>(w.w_up));
  std::copy_n(h, T * c.d, y);
  mlp_down_forward(Mat<float>(Span2<float>(y, T, c.d)), gate, up, T, c.ffn,
                   Mat<const float>(w.w_down), Accum::kAdd);
}

void mlp_backward(const BlockConfig& c, Z T, const BlockWeights& w, const BlockGrads& g,
                  const float* dy, float* gate, float* up, const float* h, const float* rstd2,
                  float* dh) {
  std::copy_n(dy, T * c.d, dh);
  mlp_down_backward(Mat<float>(g.dw_down), gate, up, T, c.ffn,
                    Mat<const float>(Span2<const float>(dy, T, c.d)), Mat<const float>(w.w_down));
  mlp_up_backward(dh, Mat<float>(g.dw_gate), Mat<float>(g.dw_up), g.dmlp_norm, gate, up, h, rstd2,
                  T, c.d, c.ffn, w.mlp_norm, Mat<const float>(w.w_gate), Mat<const float>(w.w_up));
}

}  // namespace ody::strategies::parts
