// Element types: names, sizes, allowed reductions, and the bf16/f16 conversions
// (round to nearest even, against an exhaustive fp64 reference over all 16-bit values).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "base/error.hpp"
#include "comm/dtype.hpp"

namespace ody::comm {
namespace {

TEST(DType, NamesRoundTrip) {
  for (int i = 0; i < kNumDTypes; ++i) {
    auto t = static_cast<DType>(i);
    EXPECT_EQ(parse_dtype(to_string(t)), t);
  }
  for (int i = 0; i < kNumReduceOps; ++i) {
    auto op = static_cast<ReduceOp>(i);
    EXPECT_EQ(parse_reduce_op(to_string(op)), op);
  }
  try {
    parse_dtype("f8", "--dtype");
    FAIL();
  } catch (const ody::Error& e) {
    EXPECT_EQ(e.where(), "--dtype");
    EXPECT_NE(std::string(e.what()).find("'f8'"), std::string::npos);
  }
}

TEST(DType, AvgOnlyForFloatingTypes) {
  EXPECT_TRUE(reduction_allowed(DType::bf16, ReduceOp::avg));
  EXPECT_FALSE(reduction_allowed(DType::i32, ReduceOp::avg));
  EXPECT_TRUE(reduction_allowed(DType::u8, ReduceOp::sum));
  EXPECT_EQ(dtype_size(DType::bf16), 2u);
  EXPECT_EQ(dtype_size(DType::i64), 8u);
}

// Decoding every 16-bit pattern and encoding it again must give the same pattern (NaNs
// stay NaNs); values halfway between two representable numbers round to even.
template <class Half>
void exhaustive_round_trip() {
  for (std::uint32_t b = 0; b <= 0xffffu; ++b) {
    float f = Half::to_float(static_cast<std::uint16_t>(b));
    std::uint16_t back = Half::from_float(f);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(Half::to_float(back))) << std::hex << b;
    } else {
      ASSERT_EQ(back, b) << std::hex << b << " -> " << f;
    }
  }
}

TEST(Half, Bf16RoundTripsEveryPattern) { exhaustive_round_trip<bf16>(); }
TEST(Half, F16RoundTripsEveryPattern) { exhaustive_round_trip<f16>(); }

TEST(Half, F16DecodesKnownValues) {
  EXPECT_EQ(f16::to_float(0x3c00), 1.0f);
  EXPECT_EQ(f16::to_float(0xc000), -2.0f);
  EXPECT_EQ(f16::to_float(0x7bff), 65504.0f);
  EXPECT_EQ(f16::to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_TRUE(std::isinf(f16::to_float(0x7c00)));
}

// Rounding: for random floats, the encoded value is the nearest representable one (ties
// to even), checked against fp64 neighbours.
template <class Half>
void nearest_rounding() {
  std::uint32_t state = 12345;
  for (int k = 0; k < 200000; ++k) {
    state = state * 1664525u + 1013904223u;
    float f;
    std::uint32_t bits = (state & 0x8fffffffu) | 0x30000000u;  // moderate exponents
    std::memcpy(&f, &bits, 4);
    if (!std::isfinite(f)) continue;
    const std::uint16_t h = Half::from_float(f);
    const double got = Half::to_float(h);
    const double up = Half::to_float(static_cast<std::uint16_t>(h + 1));
    const double down = Half::to_float(static_cast<std::uint16_t>(h - 1));
    const double err = std::abs(got - f);
    if (std::isfinite(up) && !std::isnan(up)) EXPECT_LE(err, std::abs(up - f)) << f;
    if (std::isfinite(down) && !std::isnan(down) && (h & 0x7fff) != 0)
      EXPECT_LE(err, std::abs(down - f)) << f;
  }
}

TEST(Half, Bf16RoundsToNearest) { nearest_rounding<bf16>(); }
TEST(Half, F16RoundsToNearest) { nearest_rounding<f16>(); }

TEST(Half, TiesGoToEven) {
  // 1 + 2^-8 lies halfway between bf16 1.0 and 1 + 2^-7: rounds to 1.0 (even mantissa).
  EXPECT_EQ(bf16::from_float(1.0f + std::ldexp(1.0f, -8)), bf16::from_float(1.0f));
  // 1 + 3·2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
  EXPECT_EQ(bf16::to_float(bf16::from_float(1.0f + 3 * std::ldexp(1.0f, -8))),
            1.0f + std::ldexp(1.0f, -6));
  EXPECT_EQ(f16::from_float(1.0f + std::ldexp(1.0f, -11)), f16::from_float(1.0f));
  EXPECT_EQ(f16::from_float(70000.0f), 0x7c00);  // overflow to inf
}

}  // namespace
}  // namespace ody::comm
