#pragma once
// Compile-time choices of the CUDA attention kernels (tile sizes, warps, shared-memory
// layout) and the device helpers they share. Every shared-memory layout is checked
// against the sm_80 opt-in limit (A100: 163 KiB per block; H100 allows 227 KiB).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace ody::kernels::cuda_detail {

constexpr std::size_t kMaxSmemBytes = 163 * 1024;  // sm_80 max dynamic smem per block
constexpr int kPadElem = 8;   // row padding (elements) of 16-bit tiles: spreads banks,
constexpr int kPadFloat = 4;  // and keeps WMMA's ldm a multiple of 16 bytes

constexpr std::size_t round_up(std::size_t x, std::size_t a) { return (x + a - 1) / a * a; }

// Forward: one block = kBlockM query rows of one head; loops over key tiles of kBlockN.
template <class Elem_, int kHeadDim_, int kBlockM_, int kBlockN_, int kWarps_>
struct FwdTraits {
  using Elem = Elem_;
  static constexpr int kHeadDim = kHeadDim_, kBlockM = kBlockM_, kBlockN = kBlockN_;
  static constexpr int kWarps = kWarps_, kThreads = kWarps * 32;
  static constexpr int kLdQKV = kHeadDim + kPadElem;  // Q, K, V tiles (Elem)
  static constexpr int kLdS = kBlockN + kPadFloat;    // scores (float)
  static constexpr int kLdP = kBlockN + kPadElem;     // probabilities (Elem)
  static constexpr int kLdO = kHeadDim + kPadFloat;   // output accumulator (float)
  // Byte offsets, each 128-byte aligned (WMMA needs 32).
  static constexpr std::size_t kOffQ = 0;
  static constexpr std::size_t kOffK = kOffQ + round_up(sizeof(Elem) * kBlockM * kLdQKV, 128);
  static constexpr std::size_t kOffV = kOffK + round_up(sizeof(Elem) * kBlockN * kLdQKV, 128);
  static constexpr std::size_t kOffS = kOffV + round_up(sizeof(Elem) * kBlockN * kLdQKV, 128);
  static constexpr std::size_t kOffP = kOffS + round_up(sizeof(float) * kBlockM * kLdS, 128);
  static constexpr std::size_t kOffO = kOffP + round_up(sizeof(Elem) * kBlockM * kLdP, 128);
  static constexpr std::size_t kOffRow = kOffO + round_up(sizeof(float) * kBlockM * kLdO, 128);
  // Per row: max m, sum l (float), position (int64); per column: position; tile flags.
  static constexpr std::size_t kOffPosQ = kOffRow + round_up(2 * sizeof(float) * kBlockM, 128);
  static constexpr std::size_t kOffPosK = kOffPosQ + round_up(sizeof(std::int64_t) * kBlockM, 128);
  static constexpr std::size_t kOffFlags = kOffPosK + round_up(sizeof(std::int64_t) * kBlockN, 128);
  static constexpr std::size_t kSmemBytes = kOffFlags + 128;

  static_assert(kHeadDim % 16 == 0 && kBlockM % 16 == 0 && kBlockN % 16 == 0,
                "WMMA tiles are 16x16x16");
  static_assert(kBlockM <= kThreads, "softmax uses one thread per row");
  static_assert(kBlockN <= kThreads, "one thread per column loads positions");
  static_assert(kSmemBytes <= kMaxSmemBytes, "forward tile does not fit in shared memory");
};

// Backward: one block = kBlockN keys of one query head (FlashAttention-2 order); loops
// over query tiles of kBlockM, keeps dK, dV of its keys in shared memory, adds dQ with
// atomics.
template <class Elem_, int kHeadDim_, int kBlockM_, int kBlockN_, int kWarps_>
struct BwdTraits {
  using Elem = Elem_;
  static constexpr int kHeadDim = kHeadDim_, kBlockM = kBlockM_, kBlockN = kBlockN_;
  static constexpr int kWarps = kWarps_, kThreads = kWarps * 32;
  static constexpr int kLdQKV = kHeadDim + kPadElem;
  static constexpr int kLdS = kBlockN + kPadFloat;
  static constexpr int kLdP = kBlockN + kPadElem;
  static constexpr int kLdAcc = kHeadDim + kPadFloat;  // dK, dV, dQ (float)
  static constexpr std::size_t kOffK = 0;
  static constexpr std::size_t kOffV = kOffK + round_up(sizeof(Elem) * kBlockN * kLdQKV, 128);
  static constexpr std::size_t kOffQ = kOffV + round_up(sizeof(Elem) * kBlockN * kLdQKV, 128);
  static constexpr std::size_t kOffDO = kOffQ + round_up(sizeof(Elem) * kBlockM * kLdQKV, 128);
  static constexpr std::size_t kOffDK = kOffDO + round_up(sizeof(Elem) * kBlockM * kLdQKV, 128);
  static constexpr std::size_t kOffDV = kOffDK + round_up(sizeof(float) * kBlockN * kLdAcc, 128);
  // S and dP (float) are dead once P and dS are formed; dQ of the tile reuses their space.
  static constexpr std::size_t kOffS = kOffDV + round_up(sizeof(float) * kBlockN * kLdAcc, 128);
  static constexpr std::size_t kOffDP = kOffS + round_up(sizeof(float) * kBlockM * kLdS, 128);
  static constexpr std::size_t kOffDQ = kOffS;
  static constexpr std::size_t kScratchEnd = kOffDP + round_up(sizeof(float) * kBlockM * kLdS, 128);
  static constexpr std::size_t kOffP = kScratchEnd;
  static constexpr std::size_t kOffDS = kOffP + round_up(sizeof(Elem) * kBlockM * kLdP, 128);
  static constexpr std::size_t kOffRow = kOffDS + round_up(sizeof(Elem) * kBlockM * kLdP, 128);
  // Per row: lse (log2 units) and D (float); positions of rows and columns; flags.
  static constexpr std::size_t kOffPosQ = kOffRow + round_up(2 * sizeof(float) * kBlockM, 128);
  static constexpr std::size_t kOffPosK = kOffPosQ + round_up(sizeof(std::int64_t) * kBlockM, 128);
  static constexpr std::size_t kOffFlags = kOffPosK + round_up(sizeof(std::int64_t) * kBlockN, 128);
  static constexpr std::size_t kSmemBytes = kOffFlags + 128;

  static_assert(kHeadDim % 16 == 0 && kBlockM % 16 == 0 && kBlockN % 16 == 0,
                "WMMA tiles are 16x16x16");
  static_assert(kBlockM <= kThreads && kBlockN <= kThreads, "one thread per row / column loads");
  static_assert(kOffDQ + sizeof(float) * kBlockM * kLdAcc <= kScratchEnd,
                "dQ tile must fit in the S + dP space it reuses");
  static_assert(kSmemBytes <= kMaxSmemBytes, "backward tile does not fit in shared memory");
};

// The instantiated configurations (Dh 64 and 128; smaller Dh runs zero-padded).
template <class Elem, int kHeadDim>
using FwdConfig = FwdTraits<Elem, kHeadDim, 64, 64, 4>;
template <class Elem, int kHeadDim>
using BwdConfig = BwdTraits<Elem, kHeadDim, (kHeadDim <= 64 ? 64 : 32), 64, 4>;

// ---- element conversions --------------------------------------------------------------
template <class X>
__device__ __forceinline__ float to_float(X x);
template <>
__device__ __forceinline__ float to_float<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ float to_float<__nv_bfloat16>(__nv_bfloat16 x) {
  return __bfloat162float(x);
}
template <>
__device__ __forceinline__ float to_float<__half>(__half x) {
  return __half2float(x);
}

template <class X>
__device__ __forceinline__ X from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}
template <>
__device__ __forceinline__ __half from_float<__half>(float x) {
  return __float2half_rn(x);
}

// ---- block-wide GEMM on shared memory with WMMA ---------------------------------------
// C [M, N] (float, row-major, ldc) = (accumulate ? C : 0) + op(A) [M, K] * op(B) [K, N].
// A is row-major (A[m * lda + k]) or, with kTransA, stored as A[k * lda + m]; B is
// row-major (B[k * ldb + n]) or, with kTransB, stored as B[n * ldb + k]. Output 16x16
// fragments are dealt to the warps round-robin. No synchronisation inside.
template <class Elem, int M, int N, int K, bool kTransA, bool kTransB>
__device__ __forceinline__ void block_gemm(float* c, int ldc, const Elem* a, int lda, const Elem* b,
                                           int ldb, bool accumulate, int warp, int warps) {
  namespace wmma = nvcuda::wmma;
  using LayoutA = typename std::conditional<kTransA, wmma::col_major, wmma::row_major>::type;
  using LayoutB = typename std::conditional<kTransB, wmma::col_major, wmma::row_major>::type;
  constexpr int kTilesN = N / 16;
  for (int f = warp; f < (M / 16) * kTilesN; f += warps) {
    const int mi = f / kTilesN, ni = f % kTilesN;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    float* cp = c + mi * 16 * ldc + ni * 16;
    if (accumulate)
      wmma::load_matrix_sync(acc, cp, ldc, wmma::mem_row_major);
    else
      wmma::fill_fragment(acc, 0.f);
#pragma unroll 4
    for (int kk = 0; kk < K / 16; ++kk) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, Elem, LayoutA> fa;
      wmma::fragment<wmma::matrix_b, 16, 16, 16, Elem, LayoutB> fb;
      const Elem* ap = kTransA ? a + kk * 16 * lda + mi * 16 : a + mi * 16 * lda + kk * 16;
      const Elem* bp = kTransB ? b + ni * 16 * ldb + kk * 16 : b + kk * 16 * ldb + ni * 16;
      wmma::load_matrix_sync(fa, ap, lda);
      wmma::load_matrix_sync(fb, bp, ldb);
      wmma::mma_sync(acc, fa, fb, acc);
    }
    wmma::store_matrix_sync(cp, acc, ldc, wmma::mem_row_major);
  }
}

// Loads rows [row0, row0 + kRows) x [0, kHeadDim) of a [L, Dh] slice (element stride
// `ld` between rows) into a shared tile of Elem, zero beyond len and head_dim.
template <class Elem, class Src, int kRows, int kHeadDim, int kThreads>
__device__ __forceinline__ void load_tile(Elem* dst, int ld_dst, const Src* src, std::int64_t ld,
                                          int row0, int len, int head_dim) {
  for (int idx = threadIdx.x; idx < kRows * kHeadDim; idx += kThreads) {
    const int r = idx / kHeadDim, d = idx % kHeadDim;
    const bool ok = row0 + r < len && d < head_dim;
    dst[r * ld_dst + d] =
        ok ? from_float<Elem>(to_float(src[(row0 + r) * ld + d])) : from_float<Elem>(0.f);
  }
}

// Tile classification by the min/max positions of its rows and columns (as on the CPU).
enum TileKind : int { kTileSkip = 0, kTileFull = 1, kTilePartial = 2 };
__device__ __forceinline__ int classify(bool causal, std::int64_t q_lo, std::int64_t q_hi,
                                        std::int64_t k_lo, std::int64_t k_hi) {
  if (!causal) return kTileFull;
  if (k_lo > q_hi) return kTileSkip;
  if (k_hi <= q_lo) return kTileFull;
  return kTilePartial;
}

}  // namespace ody::kernels::cuda_detail
