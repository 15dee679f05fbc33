#pragma once
// Rotary position embedding, rotate-half convention (HF Llama): for j < Dh/2,
//   angle  = p · theta^(-2j/Dh),  p = the token's GLOBAL position
//   y[j]        = x[j]·cos(angle) - x[j + Dh/2]·sin(angle)
//   y[j + Dh/2] = x[j + Dh/2]·cos(angle) + x[j]·sin(angle)
// Angles and their cos/sin are computed in double and rounded once (HF computes them in
// fp32, whose angle error grows like p·2^-24: about 2e-4 rad at p = 4K). A token shard or
// a permuted layout passes the positions of the tokens it holds.
#include "layers/views.hpp"

namespace ody::layers {

inline constexpr double kRopeTheta = 10000.0;

// y [B, L, heads, Dh] = RoPE(x) with pos [L] (the same positions for every batch row).
// y may alias x (in place). Dh must be even.
template <class Space = HostSpace>
void rope_forward(Span4<float, Space> y,        // [B, L, heads, Dh]
                  Span4<const float, Space> x,  // [B, L, heads, Dh]
                  Span1<const Pos, Space> pos,  // [L]
                  double theta = kRopeTheta);

// dx = RoPE⁻¹(dy): the rotation is orthogonal, so its adjoint is the rotation by -angle.
// dx may alias dy.
template <class Space = HostSpace>
void rope_backward(Span4<float, Space> dx,        // [B, L, heads, Dh]
                   Span4<const float, Space> dy,  // [B, L, heads, Dh]
                   Span1<const Pos, Space> pos,   // [L]
                   double theta = kRopeTheta);

}  // namespace ody::layers
