#pragma once
// Every CUDA runtime and NCCL call of the NCCL backend goes through these: on failure they
// throw ody::Error with the call, file:line and the library's error string (NCCL's last
// error text of the communicator when there is one).
#include <cuda_runtime.h>
#include <nccl.h>

namespace ody::backends::nccl {

[[noreturn]] void throw_cuda(cudaError_t err, const char* call, const char* file, int line);
[[noreturn]] void throw_nccl(ncclResult_t res, ncclComm_t comm, const char* call, const char* file,
                             int line);

}  // namespace ody::backends::nccl

#define ODY_CUDA_CHECK(call)                                                  \
  do {                                                                        \
    cudaError_t ody_err_ = (call);                                            \
    if (ody_err_ != cudaSuccess)                                              \
      ::ody::backends::nccl::throw_cuda(ody_err_, #call, __FILE__, __LINE__); \
  } while (0)

// comm may be nullptr (calls that have no communicator yet).
#define ODY_NCCL_CHECK(call, comm)                                                    \
  do {                                                                                \
    ncclResult_t ody_res_ = (call);                                                   \
    if (ody_res_ != ncclSuccess)                                                      \
      ::ody::backends::nccl::throw_nccl(ody_res_, (comm), #call, __FILE__, __LINE__); \
  } while (0)
