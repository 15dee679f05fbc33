#pragma once
// Forward kernel (FlashAttention-2 style) and its launcher. Block (x, y, z) = (query
// tile, query head, batch). Per key tile not wholly masked:
//   S = Q K^T (WMMA) -> scale to log2 units, mask -> online softmax per row (one thread
//   per row) -> P (Elem) -> O += P V (WMMA, O kept in shared memory as float).
// Finally out = O / l, lse = ln 2 (m + log2 l); rows that saw no key get 0 and -inf, or
// (accumulate) the tile's result is merged into the existing fp32 (out, lse).
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "kernels/cuda/attention_params.h"
#include "kernels/cuda/attention_traits.cuh"
#include "kernels/cuda/cuda_check.cuh"

namespace ody::kernels::cuda_detail {

template <class Traits, class TOut>
__global__ void __launch_bounds__(Traits::kThreads) attention_fwd_kernel(const AttentionParams p) {
  using Elem = typename Traits::Elem;
  constexpr int kM = Traits::kBlockM, kN = Traits::kBlockN, kD = Traits::kHeadDim;
  constexpr int kThreads = Traits::kThreads;
  extern __shared__ __align__(128) unsigned char smem[];
  Elem* sQ = reinterpret_cast<Elem*>(smem + Traits::kOffQ);
  Elem* sK = reinterpret_cast<Elem*>(smem + Traits::kOffK);
  Elem* sV = reinterpret_cast<Elem*>(smem + Traits::kOffV);
  float* sS = reinterpret_cast<float*>(smem + Traits::kOffS);
  Elem* sP = reinterpret_cast<Elem*>(smem + Traits::kOffP);
  float* sO = reinterpret_cast<float*>(smem + Traits::kOffO);
  float* sM = reinterpret_cast<float*>(smem + Traits::kOffRow);
  float* sL = sM + kM;
  std::int64_t* sPosQ = reinterpret_cast<std::int64_t*>(smem + Traits::kOffPosQ);
  std::int64_t* sPosK = reinterpret_cast<std::int64_t*>(smem + Traits::kOffPosK);
  std::int64_t* sFlags =
      reinterpret_cast<std::int64_t*>(smem + Traits::kOffFlags);  // q_lo, q_hi, kind

  const int tid = threadIdx.x, warp = tid / 32;
  const int m0 = blockIdx.x * kM, h = blockIdx.y, b = blockIdx.z, hk = h / p.group;
  const int rows = min(kM, p.len_q - m0);
  const Elem* q = static_cast<const Elem*>(p.q) + b * p.q_batch + h * p.q_head;
  const Elem* k = static_cast<const Elem*>(p.k) + b * p.k_batch + hk * p.k_head;
  const Elem* v = static_cast<const Elem*>(p.v) + b * p.v_batch + hk * p.v_head;

  load_tile<Elem, Elem, kM, kD, kThreads>(sQ, Traits::kLdQKV, q, p.q_seq, m0, p.len_q, p.head_dim);
  for (int idx = tid; idx < kM * Traits::kLdO; idx += kThreads) sO[idx] = 0.f;
  if (tid < kM) {
    sM[tid] = -INFINITY;
    sL[tid] = 0.f;
    sPosQ[tid] = tid < rows ? p.pos_q[m0 + tid] : 0;
  }
  __syncthreads();
  if (tid == 0) {
    std::int64_t lo = sPosQ[0], hi = sPosQ[0];
    for (int r = 1; r < rows; ++r) {
      lo = min(lo, sPosQ[r]);
      hi = max(hi, sPosQ[r]);
    }
    sFlags[0] = lo;
    sFlags[1] = hi;
  }

  for (int n0 = 0; n0 < p.len_k; n0 += kN) {
    const int cols = min(kN, p.len_k - n0);
    __syncthreads();  // previous tile's users of sK, sV, sP, sPosK are done
    if (tid < kN) sPosK[tid] = tid < cols ? p.pos_k[n0 + tid] : 0;
    __syncthreads();
    if (tid == 0) {
      std::int64_t lo = sPosK[0], hi = sPosK[0];
      for (int c = 1; c < cols; ++c) {
        lo = min(lo, sPosK[c]);
        hi = max(hi, sPosK[c]);
      }
      sFlags[2] = classify(p.causal, sFlags[0], sFlags[1], lo, hi);
    }
    __syncthreads();
    const int kind = static_cast<int>(sFlags[2]);
    if (kind == kTileSkip) continue;  // uniform across the block
    load_tile<Elem, Elem, kN, kD, kThreads>(sK, Traits::kLdQKV, k, p.k_seq, n0, p.len_k,
                                            p.head_dim);
    load_tile<Elem, Elem, kN, kD, kThreads>(sV, Traits::kLdQKV, v, p.v_seq, n0, p.len_k,
                                            p.head_dim);
    __syncthreads();
    block_gemm<Elem, kM, kN, kD, false, true>(sS, Traits::kLdS, sQ, Traits::kLdQKV, sK,
                                              Traits::kLdQKV, false, warp, Traits::kWarps);
    __syncthreads();
    if (tid < kM) {  // online softmax of row tid
      const int r = tid;
      float* srow = sS + r * Traits::kLdS;
      Elem* prow = sP + r * Traits::kLdP;
      const std::int64_t pq = sPosQ[r];
      float mx = -INFINITY;
      for (int c = 0; c < kN; ++c) {
        const bool visible = c < cols && (kind == kTileFull || sPosK[c] <= pq);
        const float s = visible ? srow[c] * p.scale_log2 : -INFINITY;
        srow[c] = s;
        mx = fmaxf(mx, s);
      }
      const float m_old = sM[r];
      const float m_new = fmaxf(m_old, mx);
      const float m_use = m_new == -INFINITY ? 0.f : m_new;  // empty so far: p = 0, no NaN
      float sum = 0.f;
      for (int c = 0; c < kN; ++c) {
        const float pv = exp2f(srow[c] - m_use);
        prow[c] = from_float<Elem>(pv);
        sum += pv;
      }
      const float alpha = m_old == -INFINITY ? 0.f : exp2f(m_old - m_use);
      sL[r] = sL[r] * alpha + sum;
      sM[r] = m_new;
      float* orow = sO + r * Traits::kLdO;
      for (int d = 0; d < kD; ++d) orow[d] *= alpha;
    }
    __syncthreads();
    block_gemm<Elem, kM, kD, kN, false, false>(sO, Traits::kLdO, sP, Traits::kLdP, sV,
                                               Traits::kLdQKV, true, warp, Traits::kWarps);
  }
  __syncthreads();

  TOut* out = static_cast<TOut*>(p.out) + b * p.o_batch + h * p.o_head;
  float* lse = p.lse + b * p.lse_batch + h * p.lse_head;
  constexpr float kLn2 = 0.6931471805599453f;
  if (p.accumulate) {
    // Merge (docs/algorithms.md section 2) into the existing fp32 partial; TOut is float
    // here (checked by the host API). One thread per row.
    if (tid < rows) {
      const int r = tid;
      const float l = sL[r];
      if (l > 0.f) {
        const float lse_b = (sM[r] + log2f(l)) * kLn2;
        float* orow = reinterpret_cast<float*>(out) + static_cast<std::int64_t>(m0 + r) * p.o_seq;
        const float lse_a = lse[m0 + r];
        const float* obrow = sO + r * Traits::kLdO;
        if (lse_a == -INFINITY) {
          for (int d = 0; d < p.head_dim; ++d) orow[d] = obrow[d] / l;
          lse[m0 + r] = lse_b;
        } else {
          const float diff = lse_b - lse_a;
          const float w = diff >= 0.f ? 1.f / (1.f + expf(-diff)) : expf(diff) / (1.f + expf(diff));
          for (int d = 0; d < p.head_dim; ++d) orow[d] = orow[d] - w * (orow[d] - obrow[d] / l);
          lse[m0 + r] = (diff >= 0.f ? lse_b : lse_a) + log1pf(expf(-fabsf(diff)));
        }
      }
    }
    return;
  }
  for (int idx = tid; idx < rows * kD; idx += kThreads) {
    const int r = idx / kD, d = idx % kD;
    if (d >= p.head_dim) continue;
    const float l = sL[r];
    const float o = l > 0.f ? sO[r * Traits::kLdO + d] / l : 0.f;
    out[static_cast<std::int64_t>(m0 + r) * p.o_seq + d] = from_float<TOut>(o);
  }
  if (tid < rows) {
    const float l = sL[tid];
    lse[m0 + tid] = l > 0.f ? (sM[tid] + log2f(l)) * kLn2 : -INFINITY;
  }
}

template <class Elem, class TOut, int kHeadDim>
void run_attention_fwd(const AttentionParams& p, cudaStream_t stream) {
  using Traits = FwdConfig<Elem, kHeadDim>;
  auto kernel = attention_fwd_kernel<Traits, TOut>;
  ODY_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(Traits::kSmemBytes)));
  const dim3 grid((p.len_q + Traits::kBlockM - 1) / Traits::kBlockM, p.heads_q, p.batch);
  kernel<<<grid, Traits::kThreads, Traits::kSmemBytes, stream>>>(p);
  ODY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace ody::kernels::cuda_detail
