#pragma once
// Parameters of the CUDA attention kernels: pointers, element strides and sizes, filled
// by the host API (attention_cuda.cu) and passed by value to every kernel. Plain C++.
#include <cstdint>

namespace ody::kernels::cuda_detail {

struct AttentionParams {
  // [B, L, H, Dh] tensors: device pointers and element strides (the Dh stride is 1).
  const void* q;
  const void* k;
  const void* v;
  std::int64_t q_batch, q_seq, q_head;
  std::int64_t k_batch, k_seq, k_head;
  std::int64_t v_batch, v_seq, v_head;
  void* out;  // forward: written (TOut); backward: read
  std::int64_t o_batch, o_seq, o_head;
  float* lse;  // [B, Hq, Lq], Lq stride 1
  std::int64_t lse_batch, lse_head;
  // Backward only.
  const void* dout;
  std::int64_t do_batch, do_seq, do_head;
  float* dq;
  std::int64_t dq_batch, dq_seq, dq_head;
  float* dk;
  std::int64_t dk_batch, dk_seq, dk_head;
  float* dv;
  std::int64_t dv_batch, dv_seq, dv_head;
  float* delta;  // [B, Hq, Lq] contiguous: rowsum(dout * out)
  // Global positions of rows and columns.
  const std::int64_t* pos_q;
  const std::int64_t* pos_k;
  int batch, len_q, len_k, heads_q, heads_k, head_dim, group;  // group = Hq / Hk
  float scale;                                                 // score scale
  float scale_log2;  // scale * log2(e): scores are kept in log2 units
  bool causal;
  bool accumulate;
};

}  // namespace ody::kernels::cuda_detail
