#pragma once
// Fused attention on NVIDIA GPUs (sm_80 A100, sm_90 H100): the contract of
// kernels/attention.hpp (docs/algorithms.md section 2) on DEVICE pointers, with tensor
// cores (WMMA 16x16x16, bf16 or f16 operands, fp32 accumulation). Built only when
// ODY_HAVE_CUDA; this header has no CUDA includes (streams are passed as void*).
//
//   attention_forward_cuda:  out [B, Lq, Hq, Dh] (TOut), lse [B, Hq, Lq] fp32
//                            <- q [B, Lq, Hq, Dh], k, v [B, Lk, Hk, Dh] (T), pos_q, pos_k (int64)
//   attention_backward_cuda: dq [B, Lq, Hq, Dh], dk, dv [B, Lk, Hk, Dh] (fp32)
//                            <- dout, out (TOut), lse, q, k, v, positions
//
// Same semantics as the CPU kernels: masking by global position (pos_k <= pos_q when
// causal), tiles wholly masked skipped, rows with no visible key give lse = -inf, out =
// 0, dq = 0; options.accumulate merges forward results into (out, lse) (TOut = float) and
// adds backward results into dq, dk, dv; strides as in ForwardLayout / BackwardLayout.
// Differences from the CPU path, all inherent to tensor cores:
// - T is ody::bf16 or ody::f16 (no fp32 inputs); probabilities P and dS are rounded to T
//   before their MMA, and an fp32 dout/out is rounded to T for its MMA (D = rowsum(dout *
//   out) itself is computed in fp32).
// - head_dim <= 128 (kernels are built for Dh 64 and 128; smaller Dh runs zero-padded).
// - dk, dv (and dq) are accumulated with fp32 atomics, so results may differ in the last
//   bits between runs.
// Errors: invalid arguments throw ody::Error; a failing CUDA call throws ody::Error with
// the CUDA error string and file:line.
#include <cstddef>
#include <cstdint>

#include "base/half.hpp"
#include "kernels/attention.hpp"

namespace ody::kernels {

// T = ody::bf16 or ody::f16; TOut = T or float. stream: a cudaStream_t (nullptr = default).
template <class T, class TOut>
void attention_forward_cuda(TOut* out, float* lse, const T* q, const T* k, const T* v,
                            const std::int64_t* pos_q, const std::int64_t* pos_k,
                            const AttentionShape& shape, const AttentionOptions& options,
                            const ForwardLayout& layout = {}, void* stream = nullptr);

// workspace: device memory of attention_backward_cuda_workspace_bytes(shape) bytes, or
// nullptr to let the call allocate it (stream-ordered cudaMallocAsync/cudaFreeAsync).
template <class T, class TOut>
void attention_backward_cuda(float* dq, float* dk, float* dv, const TOut* dout, const T* q,
                             const T* k, const T* v, const TOut* out, const float* lse,
                             const std::int64_t* pos_q, const std::int64_t* pos_k,
                             const AttentionShape& shape, const AttentionOptions& options,
                             const BackwardLayout& layout = {}, void* workspace = nullptr,
                             void* stream = nullptr);

// D = rowsum(dout * out) per row: B * Hq * Lq floats.
std::size_t attention_backward_cuda_workspace_bytes(const AttentionShape& shape);

}  // namespace ody::kernels
