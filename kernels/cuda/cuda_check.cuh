#pragma once
// Every CUDA runtime call of kernels/cuda goes through ODY_CUDA_CHECK: on failure it
// throws ody::Error naming the call, file:line and CUDA's own message.
#include <cuda_runtime.h>

namespace ody::kernels::cuda_detail {
[[noreturn]] void throw_cuda_error(cudaError_t error, const char* call, const char* file, int line);
}  // namespace ody::kernels::cuda_detail

#define ODY_CUDA_CHECK(call)                                                                      \
  do {                                                                                            \
    const cudaError_t ody_cuda_status_ = (call);                                                  \
    if (ody_cuda_status_ != cudaSuccess)                                                          \
      ::ody::kernels::cuda_detail::throw_cuda_error(ody_cuda_status_, #call, __FILE__, __LINE__); \
  } while (0)
