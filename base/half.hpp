#pragma once
// 16-bit floating point storage types: bf16 (bfloat16) and f16 (IEEE binary16).
// Storage only: arithmetic happens in f32 after to_float(). Conversions round to nearest
// even and keep NaN a NaN; they are plain bit manipulation so they compile anywhere
// (host and, with __host__ __device__ added by a CUDA caller, device).
#include <cstdint>
#include <cstring>

namespace ody {

struct bf16 {
  std::uint16_t bits = 0;
  bf16() = default;
  explicit bf16(float f) : bits(from_float(f)) {}
  explicit operator float() const { return to_float(bits); }

  static float to_float(std::uint16_t b) {
    std::uint32_t u = static_cast<std::uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  }
  static std::uint16_t from_float(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
      return static_cast<std::uint16_t>((u >> 16) | 0x40u);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);                         // round to nearest even
    return static_cast<std::uint16_t>(u >> 16);
  }
};

struct f16 {
  std::uint16_t bits = 0;
  f16() = default;
  explicit f16(float f) : bits(from_float(f)) {}
  explicit operator float() const { return to_float(bits); }

  static float to_float(std::uint16_t h) {
    std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    std::uint32_t exp = (h >> 10) & 0x1fu;
    std::uint32_t man = h & 0x3ffu;
    std::uint32_t u;
    if (exp == 0) {
      if (man == 0) {
        u = sign;
      } else {  // subnormal: normalise
        int e = -1;
        do {
          man <<= 1;
          ++e;
        } while ((man & 0x400u) == 0);
        u = sign | static_cast<std::uint32_t>(127 - 15 - e) << 23 | (man & 0x3ffu) << 13;
      }
    } else if (exp == 31) {
      u = sign | 0x7f800000u | man << 13;
    } else {
      u = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  }
  static std::uint16_t from_float(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
    std::uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00u;   // NaN
    if (a >= 0x477ff000u) return sign | 0x7c00u;  // overflow (>= 65520) -> inf
    if (a < 0x38800000u) {                        // subnormal or zero in f16
      if (a < 0x33000000u) return sign;           // below half the smallest subnormal
      std::uint32_t man = (a & 0x7fffffu) | 0x800000u;
      int shift = 126 - static_cast<int>(a >> 23);  // 14..24
      std::uint32_t half = man >> shift;
      std::uint32_t rem = man & ((1u << shift) - 1u);
      std::uint32_t mid = 1u << (shift - 1);
      if (rem > mid || (rem == mid && (half & 1u))) ++half;
      return sign | static_cast<std::uint16_t>(half);
    }
    std::uint32_t r = a - 0x38000000u;  // rebias exponent 127 -> 15
    r += 0xfffu + ((r >> 13) & 1u);     // round to nearest even
    return sign | static_cast<std::uint16_t>(r >> 13);
  }
};

static_assert(sizeof(bf16) == 2 && sizeof(f16) == 2);

}  // namespace ody
