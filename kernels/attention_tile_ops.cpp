#include "kernels/attention_tile_ops.hpp"

#include <bit>
#include <cmath>
#include <cstring>

// Runtime dispatch: GCC builds each function below three times and an ifunc resolver
// picks one when the library loads (x86-64-v4 = AVX-512, v3 = AVX2/FMA, default =
// baseline). The loops are written so GCC vectorises them (fixed-width lane arrays for
// reductions, no libm calls inside loops), so no intrinsics are needed and the code
// stays portable: other compilers/architectures get the plain version.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define ODY_SIMD_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ODY_SIMD_CLONES
#endif

namespace ody::kernels::detail {
namespace {

constexpr int kLanes = 16;  // one AVX-512 register of floats; two AVX2, four SSE

// 2^x for x <= ~127, exactly 0 for x < -126 (and for -inf). Relative error about
// 1e-7 (degree-7 Taylor polynomial of 2^f on [-0.5, 0.5]). Branch-free so it vectorises.
[[gnu::always_inline]] inline float exp2_approx(float x) {
  float xc = x < -126.f ? -126.f : x;
  xc = xc > 127.f ? 127.f : xc;
  constexpr float kMagic = 12582912.f;  // 1.5 * 2^23: adding it rounds to an integer
  const float t = xc + kMagic;
  const float n = t - kMagic;  // round(xc)
  const float f = xc - n;      // in [-0.5, 0.5]
  const std::uint32_t ni = static_cast<std::uint32_t>(std::bit_cast<std::int32_t>(t) -
                                                      std::bit_cast<std::int32_t>(kMagic));
  // Taylor coefficients of 2^f = exp(f ln 2): (ln 2)^k / k!
  float p = 1.5252734e-5f;
  p = p * f + 1.5403530e-4f;
  p = p * f + 1.3333558e-3f;
  p = p * f + 9.6181291e-3f;
  p = p * f + 5.5504109e-2f;
  p = p * f + 2.4022651e-1f;
  p = p * f + 6.9314718e-1f;
  p = p * f + 1.0f;
  const float r = std::bit_cast<float>(std::bit_cast<std::uint32_t>(p) + (ni << 23));
  return x < -126.f ? 0.f : r;
}

}  // namespace

ODY_SIMD_CLONES
void softmax_forward_tile(float* s, std::int64_t lds, float* o, std::int64_t ldo, std::int64_t dh,
                          std::int64_t rows, std::int64_t cols, const std::int64_t* lo,
                          const std::int64_t* hi, const std::int64_t* pos_k, bool mask, float* m,
                          float* l) {
  const std::int64_t vec_end = cols - cols % kLanes;
  for (std::int64_t r = 0; r < rows; ++r) {
    float* sr = s + r * lds;
    if (mask) {
      const std::int64_t a = lo[r], b = hi[r];
      for (std::int64_t c = 0; c < cols; ++c)
        sr[c] = pos_k[c] < a || pos_k[c] > b ? -INFINITY : sr[c];
    }
    float lane_max[kLanes];
    for (int j = 0; j < kLanes; ++j) lane_max[j] = -INFINITY;
    for (std::int64_t c = 0; c < vec_end; c += kLanes)
      for (int j = 0; j < kLanes; ++j)
        lane_max[j] = sr[c + j] > lane_max[j] ? sr[c + j] : lane_max[j];
    float mx = -INFINITY;
    for (int j = 0; j < kLanes; ++j) mx = lane_max[j] > mx ? lane_max[j] : mx;
    for (std::int64_t c = vec_end; c < cols; ++c) mx = sr[c] > mx ? sr[c] : mx;

    const float m_old = m[r];
    const float m_new = mx > m_old ? mx : m_old;
    // A row that has seen nothing yet keeps max -inf: subtract 0 so p = exp2(-inf) = 0.
    const float m_use = m_new == -INFINITY ? 0.f : m_new;
    float lane_sum[kLanes] = {};
    for (std::int64_t c = 0; c < vec_end; c += kLanes)
      for (int j = 0; j < kLanes; ++j) {
        const float p = exp2_approx(sr[c + j] - m_use);
        sr[c + j] = p;
        lane_sum[j] += p;
      }
    float sum = 0.f;
    for (std::int64_t c = vec_end; c < cols; ++c) {
      const float p = exp2_approx(sr[c] - m_use);
      sr[c] = p;
      sum += p;
    }
    for (int j = 0; j < kLanes; ++j) sum += lane_sum[j];
    const float alpha = m_old == -INFINITY ? 0.f : exp2_approx(m_old - m_use);
    l[r] = l[r] * alpha + sum;
    m[r] = m_new;
    if (alpha != 1.f) {
      float* orow = o + r * ldo;
      for (std::int64_t d = 0; d < dh; ++d) orow[d] *= alpha;
    }
  }
}

ODY_SIMD_CLONES
void softmax_backward_tile(float* s, float* dp, std::int64_t ld, std::int64_t rows,
                           std::int64_t cols, const std::int64_t* lo, const std::int64_t* hi,
                           const std::int64_t* pos_k, bool mask, const float* lse2,
                           const float* delta) {
  for (std::int64_t r = 0; r < rows; ++r) {
    float* sr = s + r * ld;
    float* dr = dp + r * ld;
    const float lr = lse2[r], dl = delta[r];
    if (mask) {
      const std::int64_t a = lo[r], b = hi[r];
      for (std::int64_t c = 0; c < cols; ++c) {
        const float p = pos_k[c] < a || pos_k[c] > b ? 0.f : exp2_approx(sr[c] - lr);
        sr[c] = p;
        dr[c] = p * (dr[c] - dl);
      }
    } else {
      for (std::int64_t c = 0; c < cols; ++c) {
        const float p = exp2_approx(sr[c] - lr);
        sr[c] = p;
        dr[c] = p * (dr[c] - dl);
      }
    }
  }
}

ODY_SIMD_CLONES
void widen_rows(float* dst, std::int64_t ld_dst, const ody::bf16* src, std::int64_t ld_src,
                std::int64_t rows, std::int64_t cols) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::uint16_t* in = reinterpret_cast<const std::uint16_t*>(src + r * ld_src);
    float* outp = dst + r * ld_dst;
    for (std::int64_t c = 0; c < cols; ++c)
      outp[c] = std::bit_cast<float>(static_cast<std::uint32_t>(in[c]) << 16);
  }
}

ODY_SIMD_CLONES
void narrow_rows_scaled(ody::bf16* dst, std::int64_t ld_dst, const float* src, std::int64_t ld_src,
                        const float* factor, std::int64_t rows, std::int64_t cols) {
  for (std::int64_t r = 0; r < rows; ++r) {
    std::uint16_t* outp = reinterpret_cast<std::uint16_t*>(dst + r * ld_dst);
    const float* in = src + r * ld_src;
    const float f = factor[r];
    for (std::int64_t c = 0; c < cols; ++c) {
      // Same rounding as ody::bf16::from_float (nearest even; inputs here are finite).
      const std::uint32_t u = std::bit_cast<std::uint32_t>(in[c] * f);
      outp[c] = static_cast<std::uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
  }
}

ODY_SIMD_CLONES
void copy_rows_scaled(float* dst, std::int64_t ld_dst, const float* src, std::int64_t ld_src,
                      const float* factor, std::int64_t rows, std::int64_t cols) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float f = factor[r];
    for (std::int64_t c = 0; c < cols; ++c) dst[r * ld_dst + c] = src[r * ld_src + c] * f;
  }
}

}  // namespace ody::kernels::detail
