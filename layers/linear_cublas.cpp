// cuBLAS GEMM for Linear on CUDA memory. Compiled only when ODY_HAVE_CUDA and Kokkos was
// built with CUDA (layers/CMakeLists.txt); Debian's Serial Kokkos never builds this file.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "base/error.hpp"
#include "layers/views.hpp"

namespace ody::layers {

namespace {

#define ODY_CUBLAS_CHECK(call)                                                    \
  do {                                                                            \
    const cublasStatus_t st_ = (call);                                            \
    if (st_ != CUBLAS_STATUS_SUCCESS)                                             \
      throw ::ody::Error(std::string(__FILE__) + ":" + std::to_string(__LINE__) + \
                         ": " #call " failed: " + cublasGetStatusString(st_));    \
  } while (0)

// One cuBLAS handle per (thread, device), created on first use and kept for the life of
// the thread: handle creation costs milliseconds, far more than a GEMM of these shapes.
cublasHandle_t handle_for_current_device() {
  struct Handles {
    cublasHandle_t h[64] = {};
    ~Handles() {
      for (auto& x : h)
        if (x) cublasDestroy(x);
    }
  };
  thread_local Handles handles;
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64)
    throw Error("gemm<CudaSpace>", "a current CUDA device", "none");
  if (!handles.h[dev]) ODY_CUBLAS_CHECK(cublasCreate(&handles.h[dev]));
  return handles.h[dev];
}

}  // namespace

// Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, and a row-major matrix
// read as column-major is its transpose: swap the operands, keep the flags.
void gemm_cublas(bool trans_a, bool trans_b, Index m, Index n, Index k, float alpha, const float* a,
                 Index lda, const float* b, Index ldb, float beta, float* c, Index ldc) {
  if (m == 0 || n == 0) return;
  cublasHandle_t h = handle_for_current_device();
  // Run on the default Kokkos::Cuda instance's stream so the GEMM is ordered with the
  // layers' Kokkos kernels (no fence needed between them).
  ODY_CUBLAS_CHECK(cublasSetStream(h, Kokkos::Cuda().cuda_stream()));
  ODY_CUBLAS_CHECK(cublasSgemm(h, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                               trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, int(n), int(m), int(k), &alpha,
                               b, int(ldb < 1 ? 1 : ldb), a, int(lda < 1 ? 1 : lda), &beta, c,
                               int(ldc < 1 ? 1 : ldc)));
}

}  // namespace ody::layers
