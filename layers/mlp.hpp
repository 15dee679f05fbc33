#pragma once
// SiLU-gated MLP (SwiGLU), Llama style:
//   y = W_down( SiLU(W_gate u) ⊙ (W_up u) ),  SiLU(a) = a·sigmoid(a)
// The elementwise gate is its own forward/backward pair; the MLP composes it with three
// Linear layers. With tensor parallelism the same calls run on weight shards
// (w_gate, w_up [i/N, d], w_down [d, i/N]) and give a partial y to be reduced.
#include "layers/views.hpp"

namespace ody::layers {

// act [T, i] = SiLU(gate) ⊙ up. act may alias gate or up.
template <class Space = HostSpace>
void swiglu_forward(Span2<float, Space> act,         // [T, i]
                    Span2<const float, Space> gate,  // [T, i]
                    Span2<const float, Space> up);   // [T, i]

// dgate = dact ⊙ up ⊙ SiLU'(gate), dup = dact ⊙ SiLU(gate),
// SiLU'(a) = s·(1 + a·(1 - s)), s = sigmoid(a). dgate may alias dact, dup may alias up
// (each element is read before it is written).
template <class Space = HostSpace>
void swiglu_backward(Span2<float, Space> dgate,       // [T, i]
                     Span2<float, Space> dup,         // [T, i]
                     Span2<const float, Space> dact,  // [T, i]
                     Span2<const float, Space> gate,  // [T, i]
                     Span2<const float, Space> up);   // [T, i]

// The MLP's weights (views into whatever holds them: full tensors or shards).
template <class Space = HostSpace>
struct MlpWeights {
  Mat<const float, Space> w_gate;  // [i, d]
  Mat<const float, Space> w_up;    // [i, d]
  Mat<const float, Space> w_down;  // [d, i]
};
template <class Space = HostSpace>
struct MlpGrads {
  Mat<float, Space> dw_gate;  // [i, d] (or empty: not computed)
  Mat<float, Space> dw_up;    // [i, d] (or empty)
  Mat<float, Space> dw_down;  // [d, i] (or empty)
};

// y [T, d] (y_mode)= MLP(u [T, d]). Saves gate = u W_gateᵀ and up = u W_upᵀ (both
// [T, i]) for backward; act [T, i] is scratch (may be the caller's backward scratch).
// With y_mode = kAdd and y holding the residual, this is the block's `h + MLP(u)`.
template <class Space = HostSpace>
void mlp_forward(Mat<float, Space> y,        // [T, d]
                 Span2<float, Space> gate,   // [T, i] saved
                 Span2<float, Space> up,     // [T, i] saved
                 Span2<float, Space> act,    // [T, i] scratch
                 Mat<const float, Space> u,  // [T, d]
                 const MlpWeights<Space>& w, Accum y_mode = Accum::kOverwrite);

// du [T, d] (du_mode)= ∂/∂u, weight gradients (dw_mode)= SUMS over the T tokens.
// scratch1, scratch2 [T, i] are overwritten (activation recomputed, then its gradient);
// gate and up are left intact. du may be empty (not computed).
template <class Space = HostSpace>
void mlp_backward(Mat<float, Space> du,                                  // [T, d] (or empty)
                  const MlpGrads<Space>& g, Mat<const float, Space> dy,  // [T, d]
                  Mat<const float, Space> u,                             // [T, d]
                  const MlpWeights<Space>& w,
                  Span2<const float, Space> gate,  // [T, i] from forward
                  Span2<const float, Space> up,    // [T, i] from forward
                  Span2<float, Space> scratch1,    // [T, i]
                  Span2<float, Space> scratch2,    // [T, i]
                  Accum du_mode = Accum::kOverwrite, Accum dw_mode = Accum::kOverwrite);

// y [T, d] = a + b (the residual connection; its backward passes dy to both inputs
// unchanged, so it needs no function). y may alias a or b.
template <class Space = HostSpace>
void residual_add(Span2<float, Space> y, Span2<const float, Space> a, Span2<const float, Space> b);

}  // namespace ody::layers
