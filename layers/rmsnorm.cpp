#include "layers/rmsnorm.hpp"

#include "base/error.hpp"
#include "layers/precision.hpp"

namespace ody::layers {

namespace {
// Columns per work item of the dw reduction: 16 floats = one 64-byte cache line, so the
// walk down the rows reads whole lines instead of one float per line.
constexpr Index kColBlock = 16;
}  // namespace

template <class Space>
void rmsnorm_forward(Span2<float, Space> y, Span1<float, Space> rstd, Span2<const float, Space> x,
                     Span1<const float, Space> w, float eps) {
  using Exec = typename Space::execution_space;
  const Index T = x.extent(0), d = x.extent(1);
  ODY_REQUIRE(y.extent(0) == x.extent(0) && y.extent(1) == x.extent(1), "rmsnorm_forward: y",
              "shape of x [T, d]", "[", y.extent(0), ", ", y.extent(1), "] vs [", T, ", ", d, "]");
  ODY_REQUIRE(Index(w.extent(0)) == d, "rmsnorm_forward: w", "[d] with d = x.extent(1)", "[",
              w.extent(0), "] vs d = ", d);
  const bool save = rstd.data() != nullptr;
  ODY_REQUIRE(!save || Index(rstd.extent(0)) == T, "rmsnorm_forward: rstd", "[T] or empty", "[",
              rstd.extent(0), "] vs T = ", T);
  Kokkos::parallel_for(
      "ody::rmsnorm_forward", Kokkos::RangePolicy<Exec, Kokkos::IndexType<Index>>(0, T),
      KOKKOS_LAMBDA(const Index t) {
        double ss = 0;
        for (Index j = 0; j < d; ++j) ss += double(x(t, j)) * double(x(t, j));
        const float r = float(1.0 / math::sqrt(ss / double(d) + double(eps)));
        if (save) rstd(t) = r;
        for (Index j = 0; j < d; ++j) y(t, j) = x(t, j) * r * w(j);
      });
  if constexpr (std::is_same_v<Space, Kokkos::HostSpace>)
    round_activations(y.data(), T, d, y.stride(0));
}

template <class Space>
void rmsnorm_backward(Span2<float, Space> dx, Span1<float, Space> dw, Span2<const float, Space> dy,
                      Span2<const float, Space> x, Span1<const float, Space> w,
                      Span1<const float, Space> rstd, Accum dx_mode, Accum dw_mode) {
  using Exec = typename Space::execution_space;
  const Index T = x.extent(0), d = x.extent(1);
  ODY_REQUIRE(dy.extent(0) == x.extent(0) && dy.extent(1) == x.extent(1), "rmsnorm_backward: dy",
              "shape of x [T, d]", "[", dy.extent(0), ", ", dy.extent(1), "] vs [", T, ", ", d,
              "]");
  ODY_REQUIRE(Index(w.extent(0)) == d, "rmsnorm_backward: w", "[d]", "[", w.extent(0),
              "] vs d = ", d);
  ODY_REQUIRE(Index(rstd.extent(0)) == T, "rmsnorm_backward: rstd", "[T]", "[", rstd.extent(0),
              "] vs T = ", T);
  if (dx.data() != nullptr) {
    ODY_REQUIRE(dx.extent(0) == x.extent(0) && dx.extent(1) == x.extent(1), "rmsnorm_backward: dx",
                "shape of x [T, d] or empty", "[", dx.extent(0), ", ", dx.extent(1), "]");
    const bool add = dx_mode == Accum::kAdd;
    Kokkos::parallel_for(
        "ody::rmsnorm_backward_dx", Kokkos::RangePolicy<Exec, Kokkos::IndexType<Index>>(0, T),
        KOKKOS_LAMBDA(const Index t) {
          double s = 0;  // Σ_j dy·w·x
          for (Index j = 0; j < d; ++j) s += double(dy(t, j)) * double(w(j)) * double(x(t, j));
          const float r = rstd(t);
          const float c = float(s * double(r) * double(r) * double(r) / double(d));
          for (Index j = 0; j < d; ++j) {
            const float g = r * dy(t, j) * w(j) - x(t, j) * c;
            dx(t, j) = add ? dx(t, j) + g : g;
          }
        });
    if constexpr (std::is_same_v<Space, Kokkos::HostSpace>)
      round_activations(dx.data(), T, d, dx.stride(0));
  }
  if (dw.data() != nullptr) {
    ODY_REQUIRE(Index(dw.extent(0)) == d, "rmsnorm_backward: dw", "[d] or empty", "[", dw.extent(0),
                "] vs d = ", d);
    const bool add = dw_mode == Accum::kAdd;
    const Index nblocks = (d + kColBlock - 1) / kColBlock;
    Kokkos::parallel_for(
        "ody::rmsnorm_backward_dw", Kokkos::RangePolicy<Exec, Kokkos::IndexType<Index>>(0, nblocks),
        KOKKOS_LAMBDA(const Index b) {
          const Index j0 = b * kColBlock;
          const Index n = (d - j0) < kColBlock ? (d - j0) : kColBlock;
          double acc[kColBlock] = {};
          for (Index t = 0; t < T; ++t) {
            const double r = rstd(t);
            for (Index c = 0; c < n; ++c)
              acc[c] += double(dy(t, j0 + c)) * double(x(t, j0 + c)) * r;
          }
          for (Index c = 0; c < n; ++c)
            dw(j0 + c) = add ? dw(j0 + c) + float(acc[c]) : float(acc[c]);
        });
  }
}

#define ODY_INSTANTIATE(Space)                                                                \
  template void rmsnorm_forward<Space>(Span2<float, Space>, Span1<float, Space>,              \
                                       Span2<const float, Space>, Span1<const float, Space>,  \
                                       float);                                                \
  template void rmsnorm_backward<Space>(Span2<float, Space>, Span1<float, Space>,             \
                                        Span2<const float, Space>, Span2<const float, Space>, \
                                        Span1<const float, Space>, Span1<const float, Space>, \
                                        Accum, Accum);
ODY_INSTANTIATE(Kokkos::HostSpace)
#if defined(KOKKOS_ENABLE_CUDA)
ODY_INSTANTIATE(Kokkos::CudaSpace)
#endif
#undef ODY_INSTANTIATE

}  // namespace ody::layers
