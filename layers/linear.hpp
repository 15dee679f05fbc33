#pragma once
// Linear layer without bias, PyTorch convention: W is [out, in] and y = x Wᵀ.
// Tokens are rows (T = B·L, or a token shard of it); a weight shard is simply a smaller
// W: column-parallel [out/N, in] (contiguous rows) or row-parallel [out, in/N] (a column
// slice: pass a strided Mat, or a contiguous copy).
//
// Host memory (HostSpace): OpenBLAS cblas_sgemm. CUDA memory (CudaSpace): cuBLAS; that
// path exists only in builds where ODY_HAVE_CUDA and Kokkos was built with CUDA (never
// in Debian's Serial-only Kokkos, where it is not compiled at all).
#include "layers/views.hpp"

namespace ody::layers {

// y [T, out] (mode)= x [T, in] · W [out, in]ᵀ.
// kAdd lets a residual be fused into the GEMM: copy the residual into y, then add.
template <class Space = HostSpace>
void linear_forward(Mat<float, Space> y,        // [T, out]
                    Mat<const float, Space> x,  // [T, in]
                    Mat<const float, Space> w,  // [out, in]
                    Accum mode = Accum::kOverwrite);

// dx [T, in]   (dx_mode)= dy [T, out] · W [out, in]
// dW [out, in] (dw_mode)= dyᵀ · x, the SUM over the T tokens (no averaging).
// Either output may be empty (default-constructed Mat): it is then not computed.
// dx may alias x (dW is computed first); no other aliasing.
template <class Space = HostSpace>
void linear_backward(Mat<float, Space> dx,        // [T, in] (or empty)
                     Mat<float, Space> dw,        // [out, in] (or empty)
                     Mat<const float, Space> dy,  // [T, out]
                     Mat<const float, Space> x,   // [T, in]
                     Mat<const float, Space> w,   // [out, in]
                     Accum dx_mode = Accum::kOverwrite, Accum dw_mode = Accum::kOverwrite);

// Row-major C [m, n] = alpha·op(A)·op(B) + beta·C on the memory space's BLAS, with
// op(A) [m, k], op(B) [k, n]; the building block of the above, exposed for fused uses
// (e.g. one GEMM against a concatenated weight).
template <class Space = HostSpace>
void gemm(bool trans_a, bool trans_b, Index m, Index n, Index k, float alpha, const float* a,
          Index lda, const float* b, Index ldb, float beta, float* c, Index ldc);

}  // namespace ody::layers
