#include "layers/rope.hpp"

#include <cmath>

#include "base/error.hpp"
#include "layers/precision.hpp"

namespace ody::layers {

namespace {

// sign = +1: forward rotation, -1: inverse. One work item per token (b, l): the cos/sin
// of its Dh/2 angles are computed once and applied to all heads.
template <class Space>
void rope_apply(const char* where, Span4<float, Space> y, Span4<const float, Space> x,
                Span1<const Pos, Space> pos, double theta, double sign) {
  using Exec = typename Space::execution_space;
  const Index B = x.extent(0), L = x.extent(1), nh = x.extent(2), Dh = x.extent(3);
  for (int r = 0; r < 4; ++r)
    ODY_REQUIRE(y.extent(r) == x.extent(r), where, "output of the input's shape [B, L, heads, Dh]",
                "extent ", r, " = ", y.extent(r), " vs ", x.extent(r));
  ODY_REQUIRE(Dh % 2 == 0, where, "an even head dim Dh", Dh);
  ODY_REQUIRE(Index(pos.extent(0)) == L, where, "pos [L] with L = x.extent(1)", "[", pos.extent(0),
              "] vs L = ", L);
  ODY_REQUIRE(theta > 0, where, "theta > 0", theta);
  const Index half = Dh / 2;
  const double log_theta = std::log(theta) / double(Dh);  // host side
  Kokkos::parallel_for(
      "ody::rope", Kokkos::RangePolicy<Exec, Kokkos::IndexType<Index>>(0, B * L),
      KOKKOS_LAMBDA(const Index bl) {
        const Index b = bl / L, l = bl % L;
        const double p = double(pos(l));
        for (Index j = 0; j < half; ++j) {
          // theta^(-2j/Dh) = exp(-2j·ln(theta)/Dh)
          const double angle = p * math::exp(-2.0 * double(j) * log_theta);
          const float c = float(math::cos(angle)), s = float(sign * math::sin(angle));
          for (Index h = 0; h < nh; ++h) {
            const float x1 = x(b, l, h, j), x2 = x(b, l, h, j + half);
            y(b, l, h, j) = x1 * c - x2 * s;
            y(b, l, h, j + half) = x2 * c + x1 * s;
          }
        }
      });
  if constexpr (std::is_same_v<Space, Kokkos::HostSpace>) {
    if (active_precision() == Precision::bf16)  // rows of Dh (unit stride), any outer strides
      for (Index b = 0; b < B; ++b)
        for (Index l = 0; l < L; ++l)
          for (Index h = 0; h < nh; ++h) round_bf16(&y(b, l, h, 0), std::size_t(Dh));
  }
}

}  // namespace

template <class Space>
void rope_forward(Span4<float, Space> y, Span4<const float, Space> x, Span1<const Pos, Space> pos,
                  double theta) {
  rope_apply<Space>("rope_forward", y, x, pos, theta, 1.0);
}

template <class Space>
void rope_backward(Span4<float, Space> dx, Span4<const float, Space> dy,
                   Span1<const Pos, Space> pos, double theta) {
  rope_apply<Space>("rope_backward", dx, dy, pos, theta, -1.0);
}

#define ODY_INSTANTIATE(Space)                                                       \
  template void rope_forward<Space>(Span4<float, Space>, Span4<const float, Space>,  \
                                    Span1<const Pos, Space>, double);                \
  template void rope_backward<Space>(Span4<float, Space>, Span4<const float, Space>, \
                                     Span1<const Pos, Space>, double);
ODY_INSTANTIATE(Kokkos::HostSpace)
#if defined(KOKKOS_ENABLE_CUDA)
ODY_INSTANTIATE(Kokkos::CudaSpace)
#endif
#undef ODY_INSTANTIATE

}  // namespace ody::layers
