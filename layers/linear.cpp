#include "layers/linear.hpp"

#include <cblas.h>

#include "base/error.hpp"
#include "layers/precision.hpp"

namespace ody::layers {

#if ODY_LAYERS_CUBLAS
// linear_cublas.cpp: the same contract as gemm<HostSpace>, on device pointers.
void gemm_cublas(bool trans_a, bool trans_b, Index m, Index n, Index k, float alpha, const float* a,
                 Index lda, const float* b, Index ldb, float beta, float* c, Index ldc);
#endif

namespace {

// Leading dimension of a row-strided matrix; checks the unit inner stride BLAS needs.
template <class View>
Index leading_dim(const View& m, const char* where) {
  ODY_REQUIRE(m.extent(1) <= 1 || m.stride(1) == 1, where, "unit stride along the last dimension",
              "stride ", m.stride(1));
  const Index ld = m.extent(0) <= 1 ? Index(m.extent(1)) : Index(m.stride(0));
  ODY_REQUIRE(ld >= Index(m.extent(1)), where, "row stride >= number of columns", "stride ", ld,
              " < ", m.extent(1));
  return ld < 1 ? 1 : ld;
}

void require_shape(const char* where, std::size_t rows, std::size_t cols, std::size_t want_rows,
                   std::size_t want_cols, const char* rule) {
  ODY_REQUIRE(rows == want_rows && cols == want_cols, where, rule, "[", rows, ", ", cols,
              "], wanted [", want_rows, ", ", want_cols, "]");
}

}  // namespace

template <>
void gemm<Kokkos::HostSpace>(bool trans_a, bool trans_b, Index m, Index n, Index k, float alpha,
                             const float* a, Index lda, const float* b, Index ldb, float beta,
                             float* c, Index ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // C = beta·C; BLAS would also accept this, but not every ld it is given
    for (Index i = 0; i < m; ++i)
      for (Index j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.f ? 0.f : beta * c[i * ldc + j];
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, blasint(m), blasint(n), blasint(k), alpha, a,
              blasint(lda), b, blasint(ldb), beta, c, blasint(ldc));
}

#if defined(KOKKOS_ENABLE_CUDA)
template <>
void gemm<Kokkos::CudaSpace>(bool trans_a, bool trans_b, Index m, Index n, Index k, float alpha,
                             const float* a, Index lda, const float* b, Index ldb, float beta,
                             float* c, Index ldc) {
#if ODY_LAYERS_CUBLAS
  gemm_cublas(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#else
  throw Error("gemm<CudaSpace>", "a build with ODY_HAVE_CUDA (cuBLAS)", "a build without it");
#endif
}
#endif

template <class Space>
void linear_forward(Mat<float, Space> y, Mat<const float, Space> x, Mat<const float, Space> w,
                    Accum mode) {
  const std::size_t T = x.extent(0), in = x.extent(1), out = w.extent(0);
  require_shape("linear_forward: w", w.extent(0), w.extent(1), out, in,
                "[out, in] with in = x.extent(1)");
  require_shape("linear_forward: y", y.extent(0), y.extent(1), T, out, "[T, out]");
  const Index ldx = leading_dim(x, "linear_forward: x"), ldw = leading_dim(w, "linear_forward: w"),
              ldy = leading_dim(y, "linear_forward: y");
  gemm<Space>(false, true, T, out, in, 1.f, x.data(), ldx, w.data(), ldw,
              mode == Accum::kAdd ? 1.f : 0.f, y.data(), ldy);
  if constexpr (std::is_same_v<Space, Kokkos::HostSpace>) round_activations(y.data(), T, out, ldy);
}

template <class Space>
void linear_backward(Mat<float, Space> dx, Mat<float, Space> dw, Mat<const float, Space> dy,
                     Mat<const float, Space> x, Mat<const float, Space> w, Accum dx_mode,
                     Accum dw_mode) {
  const std::size_t T = x.extent(0), in = x.extent(1), out = w.extent(0);
  require_shape("linear_backward: w", w.extent(0), w.extent(1), out, in,
                "[out, in] with in = x.extent(1)");
  require_shape("linear_backward: dy", dy.extent(0), dy.extent(1), T, out, "[T, out]");
  const Index ldx = leading_dim(x, "linear_backward: x"),
              ldw = leading_dim(w, "linear_backward: w"),
              lddy = leading_dim(dy, "linear_backward: dy");
  // dW first: it reads x, so dx may then overwrite x (the MLP reuses one buffer for the
  // SwiGLU product and its gradient).
  if (dw.data() != nullptr) {
    require_shape("linear_backward: dw", dw.extent(0), dw.extent(1), out, in, "[out, in] or empty");
    gemm<Space>(true, false, out, in, T, 1.f, dy.data(), lddy, x.data(), ldx,
                dw_mode == Accum::kAdd ? 1.f : 0.f, dw.data(),
                leading_dim(dw, "linear_backward: dw"));
  }
  if (dx.data() != nullptr) {
    require_shape("linear_backward: dx", dx.extent(0), dx.extent(1), T, in, "[T, in] or empty");
    const Index lddx = leading_dim(dx, "linear_backward: dx");
    gemm<Space>(false, false, T, in, out, 1.f, dy.data(), lddy, w.data(), ldw,
                dx_mode == Accum::kAdd ? 1.f : 0.f, dx.data(), lddx);
    // An activation gradient (bf16 under a bf16 scope); dW is an fp32 master gradient.
    if constexpr (std::is_same_v<Space, Kokkos::HostSpace>)
      round_activations(dx.data(), T, in, lddx);
  }
}

#define ODY_INSTANTIATE(Space)                                                           \
  template void linear_forward<Space>(Mat<float, Space>, Mat<const float, Space>,        \
                                      Mat<const float, Space>, Accum);                   \
  template void linear_backward<Space>(Mat<float, Space>, Mat<float, Space>,             \
                                       Mat<const float, Space>, Mat<const float, Space>, \
                                       Mat<const float, Space>, Accum, Accum);
ODY_INSTANTIATE(Kokkos::HostSpace)
#if defined(KOKKOS_ENABLE_CUDA)
ODY_INSTANTIATE(Kokkos::CudaSpace)
#endif
#undef ODY_INSTANTIATE

}  // namespace ody::layers
