#include "comm/dtype.hpp"

#include <array>

#include "base/error.hpp"

namespace ody::comm {

namespace {
constexpr std::array<std::string_view, kNumDTypes> kDTypeNames = {"f32", "f64", "bf16", "f16",
                                                                  "i32", "i64", "u8"};
constexpr std::array<std::string_view, kNumReduceOps> kOpNames = {"sum", "max", "min", "avg"};
}  // namespace

std::string_view to_string(DType t) { return kDTypeNames[static_cast<int>(t)]; }
std::string_view to_string(ReduceOp op) { return kOpNames[static_cast<int>(op)]; }
std::string_view to_string(MemoryKind m) { return m == MemoryKind::host ? "host" : "cuda"; }

DType parse_dtype(std::string_view s, std::string_view where) {
  for (int i = 0; i < kNumDTypes; ++i)
    if (kDTypeNames[i] == s) return static_cast<DType>(i);
  throw Error(std::string(where), "one of f32, f64, bf16, f16, i32, i64, u8",
              "'" + std::string(s) + "'");
}

ReduceOp parse_reduce_op(std::string_view s, std::string_view where) {
  for (int i = 0; i < kNumReduceOps; ++i)
    if (kOpNames[i] == s) return static_cast<ReduceOp>(i);
  throw Error(std::string(where), "one of sum, max, min, avg", "'" + std::string(s) + "'");
}

}  // namespace ody::comm
