// Explicit instantiations of the bwd launcher for head dim 128 (one file per head dim
// keeps each nvcc invocation small and lets them compile in parallel).
#include "kernels/cuda/attention_bwd_kernel.cuh"

namespace ody::kernels::cuda_detail {
template void run_attention_bwd<__nv_bfloat16, __nv_bfloat16, 128>(const AttentionParams&,
                                                                   cudaStream_t);
template void run_attention_bwd<__nv_bfloat16, float, 128>(const AttentionParams&, cudaStream_t);
template void run_attention_bwd<__half, __half, 128>(const AttentionParams&, cudaStream_t);
template void run_attention_bwd<__half, float, 128>(const AttentionParams&, cudaStream_t);
}  // namespace ody::kernels::cuda_detail
