// Host API of the CUDA attention kernels (kernels/cuda/attention_cuda.hpp): checks the
// arguments, fills AttentionParams, zeroes the gradients unless accumulating, and
// dispatches on (element type, output type, head dim) to the launchers instantiated in
// attention_{fwd,bwd}_hdim{64,128}.cu.
#include "kernels/cuda/attention_cuda.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <type_traits>

#include "base/error.hpp"
#include "kernels/cuda/attention_params.h"
#include "kernels/cuda/cuda_check.cuh"

namespace ody::kernels {
namespace cuda_detail {

void throw_cuda_error(cudaError_t error, const char* call, const char* file, int line) {
  throw ::ody::Error(::ody::detail::cat("CUDA error in ", call, " at ", file, ":", line, ": ",
                                        cudaGetErrorName(error), ": ", cudaGetErrorString(error)));
}

template <class Elem, class TOut, int kHeadDim>
void run_attention_fwd(const AttentionParams& p, cudaStream_t stream);
template <class Elem, class TOut, int kHeadDim>
void run_attention_bwd(const AttentionParams& p, cudaStream_t stream);

namespace {

// ody storage types -> CUDA's types (same bits).
template <class X>
struct Device;
template <>
struct Device<float> {
  using type = float;
};
template <>
struct Device<ody::bf16> {
  using type = __nv_bfloat16;
};
template <>
struct Device<ody::f16> {
  using type = __half;
};

Strides fill(Strides s, std::int64_t len, std::int64_t heads, std::int64_t dh) {
  if (s.batch == 0 && s.seq == 0 && s.head == 0) s = {len * heads * dh, heads * dh, dh};
  return s;
}
LseStrides fill(LseStrides s, std::int64_t heads, std::int64_t len) {
  if (s.batch == 0 && s.head == 0) s = {heads * len, len};
  return s;
}

void check(const char* where, const AttentionShape& s, const AttentionOptions& o) {
  ODY_REQUIRE(s.batch >= 0 && s.len_q >= 0 && s.len_k >= 0, where, "batch, len_q, len_k >= 0",
              "B=", s.batch, " Lq=", s.len_q, " Lk=", s.len_k);
  ODY_REQUIRE(s.head_dim > 0 && s.head_dim <= 128, where, "0 < head_dim <= 128 on the GPU",
              s.head_dim);
  ODY_REQUIRE(s.heads_k > 0 && s.heads_q > 0 && s.heads_q % s.heads_k == 0, where,
              "heads_q a positive multiple of heads_k (GQA)", "Hq=", s.heads_q, " Hk=", s.heads_k);
  ODY_REQUIRE(s.batch <= 65535 && s.heads_q <= 65535, where, "batch, heads_q <= 65535 (grid)",
              "B=", s.batch, " Hq=", s.heads_q);
  ODY_REQUIRE(s.len_q < (1ll << 31) && s.len_k < (1ll << 31), where, "lengths < 2^31",
              "Lq=", s.len_q, " Lk=", s.len_k);
  ODY_REQUIRE(std::isfinite(o.scale) && o.scale >= 0.f, where,
              "options.scale >= 0 (0 = 1/sqrt(head_dim))", o.scale);
  // Packed documents are masked by the CPU kernel only (kernels/attention.hpp); the CUDA
  // kernels would need the document starts on the device and in their tile test.
  ODY_REQUIRE(o.num_docs <= 1, std::string(where) + ": options.doc_starts",
              "one document (packed sequences are not implemented in the CUDA kernels)", o.num_docs,
              " documents");
}

AttentionParams base_params(const AttentionShape& s, const AttentionOptions& o) {
  AttentionParams p{};
  p.batch = static_cast<int>(s.batch);
  p.len_q = static_cast<int>(s.len_q);
  p.len_k = static_cast<int>(s.len_k);
  p.heads_q = static_cast<int>(s.heads_q);
  p.heads_k = static_cast<int>(s.heads_k);
  p.head_dim = static_cast<int>(s.head_dim);
  p.group = static_cast<int>(s.heads_q / s.heads_k);
  p.scale = o.scale > 0.f ? o.scale : 1.f / std::sqrt(static_cast<float>(s.head_dim));
  p.scale_log2 = p.scale * 1.4426950408889634f;
  p.causal = o.causal;
  p.accumulate = o.accumulate;
  return p;
}

__global__ void zero_rows_kernel(float* p, std::int64_t sb, std::int64_t ss, std::int64_t sh,
                                 int batch, int len, int heads, int dh) {
  const std::int64_t n = static_cast<std::int64_t>(batch) * len * heads * dh;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const int d = static_cast<int>(i % dh);
    const int h = static_cast<int>((i / dh) % heads);
    const int l = static_cast<int>((i / (static_cast<std::int64_t>(dh) * heads)) % len);
    const int b = static_cast<int>(i / (static_cast<std::int64_t>(dh) * heads * len));
    p[b * sb + l * ss + h * sh + d] = 0.f;
  }
}
void zero_rows(float* p, const Strides& st, std::int64_t batch, std::int64_t len,
               std::int64_t heads, std::int64_t dh, cudaStream_t stream) {
  if (batch * len * heads * dh == 0) return;
  zero_rows_kernel<<<1024, 256, 0, stream>>>(p, st.batch, st.seq, st.head, static_cast<int>(batch),
                                             static_cast<int>(len), static_cast<int>(heads),
                                             static_cast<int>(dh));
  ODY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace
}  // namespace cuda_detail

using cuda_detail::AttentionParams;

template <class T, class TOut>
void attention_forward_cuda(TOut* out, float* lse, const T* q, const T* k, const T* v,
                            const std::int64_t* pos_q, const std::int64_t* pos_k,
                            const AttentionShape& shape, const AttentionOptions& options,
                            const ForwardLayout& layout, void* stream) {
  static_assert(std::is_same_v<T, ody::bf16> || std::is_same_v<T, ody::f16>,
                "GPU inputs are bf16 or f16");
  static_assert(std::is_same_v<TOut, T> || std::is_same_v<TOut, float>);
  constexpr const char* kWhere = "attention_forward_cuda";
  cuda_detail::check(kWhere, shape, options);
  constexpr bool kOutF32 = std::is_same_v<TOut, float>;
  ODY_REQUIRE(!options.accumulate || kOutF32, "attention_forward_cuda: options.accumulate",
              "fp32 out (TOut = float) to merge into", "a 16-bit out");
  if (shape.batch * shape.len_q * shape.heads_q == 0) return;
  ODY_REQUIRE(out && lse && q && pos_q && (shape.len_k == 0 || (k && v && pos_k)), kWhere,
              "non-null out, lse, q, pos_q (and k, v, pos_k when len_k > 0)", "a null pointer");
  AttentionParams p = cuda_detail::base_params(shape, options);
  const auto sq = cuda_detail::fill(layout.q, shape.len_q, shape.heads_q, shape.head_dim);
  const auto sk = cuda_detail::fill(layout.k, shape.len_k, shape.heads_k, shape.head_dim);
  const auto sv = cuda_detail::fill(layout.v, shape.len_k, shape.heads_k, shape.head_dim);
  const auto so = cuda_detail::fill(layout.out, shape.len_q, shape.heads_q, shape.head_dim);
  const auto sl = cuda_detail::fill(layout.lse, shape.heads_q, shape.len_q);
  p.q = q;
  p.q_batch = sq.batch;
  p.q_seq = sq.seq;
  p.q_head = sq.head;
  p.k = k;
  p.k_batch = sk.batch;
  p.k_seq = sk.seq;
  p.k_head = sk.head;
  p.v = v;
  p.v_batch = sv.batch;
  p.v_seq = sv.seq;
  p.v_head = sv.head;
  p.out = out;
  p.o_batch = so.batch;
  p.o_seq = so.seq;
  p.o_head = so.head;
  p.lse = lse;
  p.lse_batch = sl.batch;
  p.lse_head = sl.head;
  p.pos_q = pos_q;
  p.pos_k = pos_k;
  using E = typename cuda_detail::Device<T>::type;
  using O = typename cuda_detail::Device<TOut>::type;
  auto st = static_cast<cudaStream_t>(stream);
  if (shape.head_dim <= 64)
    cuda_detail::run_attention_fwd<E, O, 64>(p, st);
  else
    cuda_detail::run_attention_fwd<E, O, 128>(p, st);
}

template <class T, class TOut>
void attention_backward_cuda(float* dq, float* dk, float* dv, const TOut* dout, const T* q,
                             const T* k, const T* v, const TOut* out, const float* lse,
                             const std::int64_t* pos_q, const std::int64_t* pos_k,
                             const AttentionShape& shape, const AttentionOptions& options,
                             const BackwardLayout& layout, void* workspace, void* stream) {
  static_assert(std::is_same_v<T, ody::bf16> || std::is_same_v<T, ody::f16>,
                "GPU inputs are bf16 or f16");
  static_assert(std::is_same_v<TOut, T> || std::is_same_v<TOut, float>);
  constexpr const char* kWhere = "attention_backward_cuda";
  cuda_detail::check(kWhere, shape, options);
  const std::int64_t B = shape.batch, Lq = shape.len_q, Lk = shape.len_k, Dh = shape.head_dim;
  if (B == 0 || (Lq == 0 && Lk == 0)) return;
  ODY_REQUIRE((Lq == 0 || (dq && dout && q && out && lse && pos_q)) &&
                  (Lk == 0 || (dk && dv && k && v && pos_k)),
              kWhere, "non-null pointers for every non-empty tensor", "a null pointer");
  const auto sq = cuda_detail::fill(layout.q, Lq, shape.heads_q, Dh);
  const auto sk = cuda_detail::fill(layout.k, Lk, shape.heads_k, Dh);
  const auto sv = cuda_detail::fill(layout.v, Lk, shape.heads_k, Dh);
  const auto so = cuda_detail::fill(layout.out, Lq, shape.heads_q, Dh);
  const auto sdo = cuda_detail::fill(layout.dout, Lq, shape.heads_q, Dh);
  const auto sdq = cuda_detail::fill(layout.dq, Lq, shape.heads_q, Dh);
  const auto sdk = cuda_detail::fill(layout.dk, Lk, shape.heads_k, Dh);
  const auto sdv = cuda_detail::fill(layout.dv, Lk, shape.heads_k, Dh);
  const auto sl = cuda_detail::fill(layout.lse, shape.heads_q, Lq);
  auto st = static_cast<cudaStream_t>(stream);
  if (!options.accumulate) {
    if (Lq) cuda_detail::zero_rows(dq, sdq, B, Lq, shape.heads_q, Dh, st);
    if (Lk) cuda_detail::zero_rows(dk, sdk, B, Lk, shape.heads_k, Dh, st);
    if (Lk) cuda_detail::zero_rows(dv, sdv, B, Lk, shape.heads_k, Dh, st);
  }
  if (Lq == 0 || Lk == 0) return;
  AttentionParams p = cuda_detail::base_params(shape, options);
  p.q = q;
  p.q_batch = sq.batch;
  p.q_seq = sq.seq;
  p.q_head = sq.head;
  p.k = k;
  p.k_batch = sk.batch;
  p.k_seq = sk.seq;
  p.k_head = sk.head;
  p.v = v;
  p.v_batch = sv.batch;
  p.v_seq = sv.seq;
  p.v_head = sv.head;
  p.out = const_cast<TOut*>(out);
  p.o_batch = so.batch;
  p.o_seq = so.seq;
  p.o_head = so.head;
  p.lse = const_cast<float*>(lse);
  p.lse_batch = sl.batch;
  p.lse_head = sl.head;
  p.dout = dout;
  p.do_batch = sdo.batch;
  p.do_seq = sdo.seq;
  p.do_head = sdo.head;
  p.dq = dq;
  p.dq_batch = sdq.batch;
  p.dq_seq = sdq.seq;
  p.dq_head = sdq.head;
  p.dk = dk;
  p.dk_batch = sdk.batch;
  p.dk_seq = sdk.seq;
  p.dk_head = sdk.head;
  p.dv = dv;
  p.dv_batch = sdv.batch;
  p.dv_seq = sdv.seq;
  p.dv_head = sdv.head;
  p.pos_q = pos_q;
  p.pos_k = pos_k;
  void* owned = nullptr;
  if (workspace == nullptr) {
    ODY_CUDA_CHECK(cudaMallocAsync(&owned, attention_backward_cuda_workspace_bytes(shape), st));
    workspace = owned;
  }
  p.delta = static_cast<float*>(workspace);
  using E = typename cuda_detail::Device<T>::type;
  using O = typename cuda_detail::Device<TOut>::type;
  try {
    if (Dh <= 64)
      cuda_detail::run_attention_bwd<E, O, 64>(p, st);
    else
      cuda_detail::run_attention_bwd<E, O, 128>(p, st);
  } catch (...) {
    if (owned) cudaFreeAsync(owned, st);
    throw;
  }
  if (owned) ODY_CUDA_CHECK(cudaFreeAsync(owned, st));
}

std::size_t attention_backward_cuda_workspace_bytes(const AttentionShape& s) {
  return static_cast<std::size_t>(s.batch * s.heads_q * s.len_q) * sizeof(float);
}

#define ODY_INSTANTIATE(T, TO)                                                                  \
  template void attention_forward_cuda<T, TO>(                                                  \
      TO*, float*, const T*, const T*, const T*, const std::int64_t*, const std::int64_t*,      \
      const AttentionShape&, const AttentionOptions&, const ForwardLayout&, void*);             \
  template void attention_backward_cuda<T, TO>(                                                 \
      float*, float*, float*, const TO*, const T*, const T*, const T*, const TO*, const float*, \
      const std::int64_t*, const std::int64_t*, const AttentionShape&, const AttentionOptions&, \
      const BackwardLayout&, void*, void*);
ODY_INSTANTIATE(ody::bf16, ody::bf16)
ODY_INSTANTIATE(ody::bf16, float)
ODY_INSTANTIATE(ody::f16, ody::f16)
ODY_INSTANTIATE(ody::f16, float)
#undef ODY_INSTANTIATE

}  // namespace ody::kernels
