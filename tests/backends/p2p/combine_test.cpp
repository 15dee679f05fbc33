// backends/p2p/combine.hpp: the reduction step of the schedules' reduce-scatter and
// all-reduce (MPI_Reduce_local with the MPI backend's mapping) against a scalar reference
// written out here: each element combined in its own type (bf16/f16 in f32, rounded
// once), avg as the sum. Exact equality: one IEEE operation per element is exact whatever
// the implementation (vectorised or not). Lengths cover empty, below and above a vector
// width, and odd tails.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "backends/p2p/combine.hpp"
#include "base/half.hpp"
#include "comm/dtype.hpp"

namespace ody::backends::p2p {
namespace {

using comm::DType;
using comm::ReduceOp;

// Deterministic values with ties between the operands (every fifth element), signs and
// fractions where the type has them.
template <class Acc>
Acc value(int which, std::int64_t i) {
  if (which == 1 && i % 5 == 0) return value<Acc>(0, i);
  const std::int64_t k = (i * 37 + which * 11) % 29;
  if constexpr (std::is_floating_point_v<Acc>)
    return static_cast<Acc>((k - 14) * 0.375);
  else if constexpr (std::is_signed_v<Acc>)
    return static_cast<Acc>(k - 14);
  else
    return static_cast<Acc>(k);
}

template <class T, class Acc>
void check_type(DType t) {
  for (ReduceOp op : {ReduceOp::sum, ReduceOp::max, ReduceOp::min, ReduceOp::avg}) {
    if (!comm::reduction_allowed(t, op)) continue;
    for (std::int64_t n : {0, 1, 7, 33, 1000, 300001}) {
      std::vector<T> in(n), inout(n), want(n);
      for (std::int64_t i = 0; i < n; ++i) {
        in[i] = static_cast<T>(value<Acc>(0, i));
        inout[i] = static_cast<T>(value<Acc>(1, i));
        const Acc a = static_cast<Acc>(in[i]), b = static_cast<Acc>(inout[i]);
        const Acc r = op == ReduceOp::max   ? (a < b ? b : a)
                      : op == ReduceOp::min ? (b < a ? b : a)
                                            : static_cast<Acc>(a + b);
        want[i] = static_cast<T>(r);
      }
      combine_into(inout.data(), in.data(), n, t, op);
      std::int64_t wrong = 0;
      for (std::int64_t i = 0; i < n; ++i)
        if (std::memcmp(&inout[i], &want[i], sizeof(T)) != 0) ++wrong;
      EXPECT_EQ(wrong, 0) << to_string(t) << " " << to_string(op) << " n=" << n;
    }
  }
}

TEST(UcxCombine, EveryTypeAndOpMatchesTheScalarReference) {
  check_type<float, float>(DType::f32);
  check_type<double, double>(DType::f64);
  check_type<ody::bf16, float>(DType::bf16);
  check_type<ody::f16, float>(DType::f16);
  check_type<std::int32_t, std::int32_t>(DType::i32);
  check_type<std::int64_t, std::int64_t>(DType::i64);
  check_type<std::uint8_t, std::uint8_t>(DType::u8);
}

}  // namespace
}  // namespace ody::backends::p2p
