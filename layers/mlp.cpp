#include "layers/mlp.hpp"

#include "base/error.hpp"
#include "layers/linear.hpp"
#include "layers/precision.hpp"

namespace ody::layers {

namespace {
template <class A, class B>
void require_same_shape(const char* where, const A& a, const B& b) {
  ODY_REQUIRE(a.extent(0) == b.extent(0) && a.extent(1) == b.extent(1), where,
              "the shape of the inputs", "[", a.extent(0), ", ", a.extent(1), "] vs [", b.extent(0),
              ", ", b.extent(1), "]");
}
}  // namespace

template <class Space>
void swiglu_forward(Span2<float, Space> act, Span2<const float, Space> gate,
                    Span2<const float, Space> up) {
  using Exec = typename Space::execution_space;
  require_same_shape("swiglu_forward: up", up, gate);
  require_same_shape("swiglu_forward: act", act, gate);
  const Index n = gate.extent(0) * gate.extent(1);
  // Contiguous spans: walk them as flat arrays.
  const float* g = gate.data();
  const float* u = up.data();
  float* a = act.data();
  Kokkos::parallel_for(
      "ody::swiglu_forward", Kokkos::RangePolicy<Exec, Kokkos::IndexType<Index>>(0, n),
      KOKKOS_LAMBDA(const Index e) {
        const float x = g[e];
        a[e] = x / (1.f + math::exp(-x)) * u[e];
      });
  if constexpr (std::is_same_v<Space, Kokkos::HostSpace>) round_activations(a, std::size_t(n));
}

template <class Space>
void swiglu_backward(Span2<float, Space> dgate, Span2<float, Space> dup,
                     Span2<const float, Space> dact, Span2<const float, Space> gate,
                     Span2<const float, Space> up) {
  using Exec = typename Space::execution_space;
  require_same_shape("swiglu_backward: up", up, gate);
  require_same_shape("swiglu_backward: dact", dact, gate);
  require_same_shape("swiglu_backward: dgate", dgate, gate);
  require_same_shape("swiglu_backward: dup", dup, gate);
  const Index n = gate.extent(0) * gate.extent(1);
  const float* g = gate.data();
  const float* u = up.data();
  const float* da = dact.data();
  float* dg = dgate.data();
  float* du = dup.data();
  Kokkos::parallel_for(
      "ody::swiglu_backward", Kokkos::RangePolicy<Exec, Kokkos::IndexType<Index>>(0, n),
      KOKKOS_LAMBDA(const Index e) {
        const float x = g[e], v = u[e], d = da[e];
        const float s = 1.f / (1.f + math::exp(-x));
        const float silu = x * s;
        dg[e] = d * v * (s * (1.f + x * (1.f - s)));
        du[e] = d * silu;
      });
  if constexpr (std::is_same_v<Space, Kokkos::HostSpace>) {
    round_activations(dg, std::size_t(n));
    round_activations(du, std::size_t(n));
  }
}

template <class Space>
void mlp_forward(Mat<float, Space> y, Span2<float, Space> gate, Span2<float, Space> up,
                 Span2<float, Space> act, Mat<const float, Space> u, const MlpWeights<Space>& w,
                 Accum y_mode) {
  linear_forward<Space>(Mat<float, Space>(gate), u, w.w_gate);
  linear_forward<Space>(Mat<float, Space>(up), u, w.w_up);
  swiglu_forward<Space>(act, gate, up);
  linear_forward<Space>(y, Mat<const float, Space>(act), w.w_down, y_mode);
}

template <class Space>
void mlp_backward(Mat<float, Space> du, const MlpGrads<Space>& g, Mat<const float, Space> dy,
                  Mat<const float, Space> u, const MlpWeights<Space>& w,
                  Span2<const float, Space> gate, Span2<const float, Space> up,
                  Span2<float, Space> scratch1, Span2<float, Space> scratch2, Accum du_mode,
                  Accum dw_mode) {
  require_same_shape("mlp_backward: scratch1", scratch1, gate);
  require_same_shape("mlp_backward: scratch2", scratch2, gate);
  // act is not saved: recompute it (one elementwise pass). dW_down = dyᵀ act, then
  // dact = dy W_down over act in the same call (linear_backward computes dW first), then
  // dgate in place over dact; dup goes to scratch2.
  swiglu_forward<Space>(scratch1, gate, up);
  linear_backward<Space>(Mat<float, Space>(scratch1), g.dw_down, dy,
                         Mat<const float, Space>(scratch1), w.w_down, Accum::kOverwrite, dw_mode);
  swiglu_backward<Space>(scratch1, scratch2, scratch1, gate, up);
  const Mat<const float, Space> dgate(scratch1), dup(scratch2);
  linear_backward<Space>(du, g.dw_gate, dgate, u, w.w_gate, du_mode, dw_mode);
  linear_backward<Space>(du, g.dw_up, dup, u, w.w_up, Accum::kAdd, dw_mode);  // du += dup W_up
}

template <class Space>
void residual_add(Span2<float, Space> y, Span2<const float, Space> a, Span2<const float, Space> b) {
  using Exec = typename Space::execution_space;
  require_same_shape("residual_add: b", b, a);
  require_same_shape("residual_add: y", y, a);
  const Index n = a.extent(0) * a.extent(1);
  const float* pa = a.data();
  const float* pb = b.data();
  float* py = y.data();
  Kokkos::parallel_for(
      "ody::residual_add", Kokkos::RangePolicy<Exec, Kokkos::IndexType<Index>>(0, n),
      KOKKOS_LAMBDA(const Index e) { py[e] = pa[e] + pb[e]; });
  if constexpr (std::is_same_v<Space, Kokkos::HostSpace>) round_activations(py, std::size_t(n));
}

#define ODY_INSTANTIATE(Space)                                                                     \
  template void swiglu_forward<Space>(Span2<float, Space>, Span2<const float, Space>,              \
                                      Span2<const float, Space>);                                  \
  template void swiglu_backward<Space>(Span2<float, Space>, Span2<float, Space>,                   \
                                       Span2<const float, Space>, Span2<const float, Space>,       \
                                       Span2<const float, Space>);                                 \
  template void mlp_forward<Space>(Mat<float, Space>, Span2<float, Space>, Span2<float, Space>,    \
                                   Span2<float, Space>, Mat<const float, Space>,                   \
                                   const MlpWeights<Space>&, Accum);                               \
  template void mlp_backward<Space>(                                                               \
      Mat<float, Space>, const MlpGrads<Space>&, Mat<const float, Space>, Mat<const float, Space>, \
      const MlpWeights<Space>&, Span2<const float, Space>, Span2<const float, Space>,              \
      Span2<float, Space>, Span2<float, Space>, Accum, Accum);                                     \
  template void residual_add<Space>(Span2<float, Space>, Span2<const float, Space>,                \
                                    Span2<const float, Space>);
ODY_INSTANTIATE(Kokkos::HostSpace)
#if defined(KOKKOS_ENABLE_CUDA)
ODY_INSTANTIATE(Kokkos::CudaSpace)
#endif
#undef ODY_INSTANTIATE

}  // namespace ody::layers
