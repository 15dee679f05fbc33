#pragma once
// Backward kernels (FlashAttention-2 order) and their launchers.
// attention_delta_kernel: D = rowsum(dout * out) in fp32, one warp per row.
// attention_bwd_kernel: block (x, y, z) = (key tile, query head, batch). It keeps K, V
// of its kBlockN keys and their dK, dV (fp32) in shared memory and walks the query tiles
// that are not wholly masked:
//   S = Q K^T, dP = dO V^T (WMMA) -> P = exp2(S scale log2e - lse log2e) (0 if masked or
//   the row saw no key), dS = P (dP - D) -> dV += P^T dO, dK += dS^T Q, dQ_tile = dS K
//   (WMMA) -> dq += scale dQ_tile (fp32 atomics: other key tiles add to the same rows).
// At the end dk += scale dK, dv += dV with atomics (query heads of one GQA group share
// a kv head).
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "kernels/cuda/attention_params.h"
#include "kernels/cuda/attention_traits.cuh"
#include "kernels/cuda/cuda_check.cuh"

namespace ody::kernels::cuda_detail {

template <class TOut>
__global__ void attention_delta_kernel(const AttentionParams p) {
  const std::int64_t row = (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  const std::int64_t rows = static_cast<std::int64_t>(p.batch) * p.heads_q * p.len_q;
  if (row >= rows) return;
  const int i = static_cast<int>(row % p.len_q);
  const int h = static_cast<int>((row / p.len_q) % p.heads_q);
  const int b = static_cast<int>(row / (static_cast<std::int64_t>(p.len_q) * p.heads_q));
  const TOut* o = static_cast<const TOut*>(p.out) + b * p.o_batch + h * p.o_head + i * p.o_seq;
  const TOut* d = static_cast<const TOut*>(p.dout) + b * p.do_batch + h * p.do_head + i * p.do_seq;
  float acc = 0.f;
  for (int c = lane; c < p.head_dim; c += 32) acc += to_float(o[c]) * to_float(d[c]);
  for (int off = 16; off > 0; off /= 2) acc += __shfl_xor_sync(0xffffffffu, acc, off);
  if (lane == 0) p.delta[row] = acc;  // [B, Hq, Lq] contiguous
}

template <class Traits, class TOut>
__global__ void __launch_bounds__(Traits::kThreads) attention_bwd_kernel(const AttentionParams p) {
  using Elem = typename Traits::Elem;
  constexpr int kM = Traits::kBlockM, kN = Traits::kBlockN, kD = Traits::kHeadDim;
  constexpr int kThreads = Traits::kThreads;
  extern __shared__ __align__(128) unsigned char smem[];
  Elem* sK = reinterpret_cast<Elem*>(smem + Traits::kOffK);
  Elem* sV = reinterpret_cast<Elem*>(smem + Traits::kOffV);
  Elem* sQ = reinterpret_cast<Elem*>(smem + Traits::kOffQ);
  Elem* sDO = reinterpret_cast<Elem*>(smem + Traits::kOffDO);
  float* sDK = reinterpret_cast<float*>(smem + Traits::kOffDK);
  float* sDV = reinterpret_cast<float*>(smem + Traits::kOffDV);
  float* sS = reinterpret_cast<float*>(smem + Traits::kOffS);
  float* sDP = reinterpret_cast<float*>(smem + Traits::kOffDP);
  float* sDQ = reinterpret_cast<float*>(smem + Traits::kOffDQ);  // aliases sS, sDP
  Elem* sP = reinterpret_cast<Elem*>(smem + Traits::kOffP);
  Elem* sDS = reinterpret_cast<Elem*>(smem + Traits::kOffDS);
  float* sLse2 = reinterpret_cast<float*>(smem + Traits::kOffRow);
  float* sD = sLse2 + kM;
  std::int64_t* sPosQ = reinterpret_cast<std::int64_t*>(smem + Traits::kOffPosQ);
  std::int64_t* sPosK = reinterpret_cast<std::int64_t*>(smem + Traits::kOffPosK);
  std::int64_t* sFlags =
      reinterpret_cast<std::int64_t*>(smem + Traits::kOffFlags);  // k_lo, k_hi, kind

  const int tid = threadIdx.x, warp = tid / 32;
  const int n0 = blockIdx.x * kN, h = blockIdx.y, b = blockIdx.z, hk = h / p.group;
  const int cols = min(kN, p.len_k - n0);
  const Elem* q = static_cast<const Elem*>(p.q) + b * p.q_batch + h * p.q_head;
  const Elem* k = static_cast<const Elem*>(p.k) + b * p.k_batch + hk * p.k_head;
  const Elem* v = static_cast<const Elem*>(p.v) + b * p.v_batch + hk * p.v_head;
  const TOut* dout = static_cast<const TOut*>(p.dout) + b * p.do_batch + h * p.do_head;
  const float* lse = p.lse + b * p.lse_batch + h * p.lse_head;
  const float* delta = p.delta + (static_cast<std::int64_t>(b) * p.heads_q + h) * p.len_q;
  float* dq = p.dq + b * p.dq_batch + h * p.dq_head;
  constexpr float kLog2e = 1.4426950408889634f;

  load_tile<Elem, Elem, kN, kD, kThreads>(sK, Traits::kLdQKV, k, p.k_seq, n0, p.len_k, p.head_dim);
  load_tile<Elem, Elem, kN, kD, kThreads>(sV, Traits::kLdQKV, v, p.v_seq, n0, p.len_k, p.head_dim);
  for (int idx = tid; idx < kN * Traits::kLdAcc; idx += kThreads) {
    sDK[idx] = 0.f;
    sDV[idx] = 0.f;
  }
  if (tid < kN) sPosK[tid] = tid < cols ? p.pos_k[n0 + tid] : 0;
  __syncthreads();
  if (tid == 0) {
    std::int64_t lo = sPosK[0], hi = sPosK[0];
    for (int c = 1; c < cols; ++c) {
      lo = min(lo, sPosK[c]);
      hi = max(hi, sPosK[c]);
    }
    sFlags[0] = lo;
    sFlags[1] = hi;
  }

  for (int m0 = 0; m0 < p.len_q; m0 += kM) {
    const int rows = min(kM, p.len_q - m0);
    __syncthreads();  // previous tile's users of the shared buffers are done
    if (tid < kM) {
      const bool ok = tid < rows;
      sPosQ[tid] = ok ? p.pos_q[m0 + tid] : 0;
      const float l = ok ? lse[m0 + tid] : -INFINITY;
      sLse2[tid] = l == -INFINITY ? INFINITY : l * kLog2e;  // +inf: the row's P is 0
      sD[tid] = ok ? delta[m0 + tid] : 0.f;
    }
    __syncthreads();
    if (tid == 0) {
      std::int64_t lo = sPosQ[0], hi = sPosQ[0];
      for (int r = 1; r < rows; ++r) {
        lo = min(lo, sPosQ[r]);
        hi = max(hi, sPosQ[r]);
      }
      sFlags[2] = classify(p.causal, lo, hi, sFlags[0], sFlags[1]);
    }
    __syncthreads();
    const int kind = static_cast<int>(sFlags[2]);
    if (kind == kTileSkip) continue;
    load_tile<Elem, Elem, kM, kD, kThreads>(sQ, Traits::kLdQKV, q, p.q_seq, m0, p.len_q,
                                            p.head_dim);
    load_tile<Elem, TOut, kM, kD, kThreads>(sDO, Traits::kLdQKV, dout, p.do_seq, m0, p.len_q,
                                            p.head_dim);
    __syncthreads();
    block_gemm<Elem, kM, kN, kD, false, true>(sS, Traits::kLdS, sQ, Traits::kLdQKV, sK,
                                              Traits::kLdQKV, false, warp, Traits::kWarps);
    block_gemm<Elem, kM, kN, kD, false, true>(sDP, Traits::kLdS, sDO, Traits::kLdQKV, sV,
                                              Traits::kLdQKV, false, warp, Traits::kWarps);
    __syncthreads();
    for (int idx = tid; idx < kM * kN; idx += kThreads) {
      const int r = idx / kN, c = idx % kN;
      const bool visible = r < rows && c < cols && (kind == kTileFull || sPosK[c] <= sPosQ[r]);
      const float pv = visible ? exp2f(sS[r * Traits::kLdS + c] * p.scale_log2 - sLse2[r]) : 0.f;
      const float ds = pv * (sDP[r * Traits::kLdS + c] - sD[r]);
      sP[r * Traits::kLdP + c] = from_float<Elem>(pv);
      sDS[r * Traits::kLdP + c] = from_float<Elem>(ds);
    }
    __syncthreads();
    // dV += P^T dO, dK += dS^T Q (scale applied at the end), dQ_tile = dS K.
    block_gemm<Elem, kN, kD, kM, true, false>(sDV, Traits::kLdAcc, sP, Traits::kLdP, sDO,
                                              Traits::kLdQKV, true, warp, Traits::kWarps);
    block_gemm<Elem, kN, kD, kM, true, false>(sDK, Traits::kLdAcc, sDS, Traits::kLdP, sQ,
                                              Traits::kLdQKV, true, warp, Traits::kWarps);
    block_gemm<Elem, kM, kD, kN, false, false>(sDQ, Traits::kLdAcc, sDS, Traits::kLdP, sK,
                                               Traits::kLdQKV, false, warp, Traits::kWarps);
    __syncthreads();
    for (int idx = tid; idx < rows * kD; idx += kThreads) {
      const int r = idx / kD, d = idx % kD;
      if (d < p.head_dim)
        atomicAdd(dq + static_cast<std::int64_t>(m0 + r) * p.dq_seq + d,
                  p.scale * sDQ[r * Traits::kLdAcc + d]);
    }
  }
  __syncthreads();
  float* dk = p.dk + b * p.dk_batch + hk * p.dk_head;
  float* dv = p.dv + b * p.dv_batch + hk * p.dv_head;
  for (int idx = tid; idx < cols * kD; idx += kThreads) {
    const int c = idx / kD, d = idx % kD;
    if (d >= p.head_dim) continue;
    atomicAdd(dk + static_cast<std::int64_t>(n0 + c) * p.dk_seq + d,
              p.scale * sDK[c * Traits::kLdAcc + d]);
    atomicAdd(dv + static_cast<std::int64_t>(n0 + c) * p.dv_seq + d, sDV[c * Traits::kLdAcc + d]);
  }
}

template <class Elem, class TOut, int kHeadDim>
void run_attention_bwd(const AttentionParams& p, cudaStream_t stream) {
  using Traits = BwdConfig<Elem, kHeadDim>;
  const std::int64_t rows = static_cast<std::int64_t>(p.batch) * p.heads_q * p.len_q;
  constexpr int kDeltaThreads = 256;  // 8 rows (warps) per block
  const unsigned delta_blocks =
      static_cast<unsigned>((rows * 32 + kDeltaThreads - 1) / kDeltaThreads);
  attention_delta_kernel<TOut><<<delta_blocks, kDeltaThreads, 0, stream>>>(p);
  ODY_CUDA_CHECK(cudaGetLastError());
  auto kernel = attention_bwd_kernel<Traits, TOut>;
  ODY_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(Traits::kSmemBytes)));
  const dim3 grid((p.len_k + Traits::kBlockN - 1) / Traits::kBlockN, p.heads_q, p.batch);
  kernel<<<grid, Traits::kThreads, Traits::kSmemBytes, stream>>>(p);
  ODY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace ody::kernels::cuda_detail
