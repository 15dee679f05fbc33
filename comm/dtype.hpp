#pragma once
// Element types, reductions and memory kinds understood by every backend.
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "base/half.hpp"

namespace ody::comm {

enum class DType : std::uint8_t { f32, f64, bf16, f16, i32, i64, u8 };
inline constexpr int kNumDTypes = 7;

enum class ReduceOp : std::uint8_t { sum, max, min, avg };
inline constexpr int kNumReduceOps = 4;

// Where a buffer lives. A backend states which kinds it accepts (BackendInfo); callers
// never need to know which backend they talk to.
enum class MemoryKind : std::uint8_t { host, cuda };

constexpr std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::f64:
    case DType::i64:
      return 8;
    case DType::f32:
    case DType::i32:
      return 4;
    case DType::bf16:
    case DType::f16:
      return 2;
    case DType::u8:
      return 1;
  }
  return 0;
}

constexpr bool is_floating(DType t) {
  return t == DType::f32 || t == DType::f64 || t == DType::bf16 || t == DType::f16;
}

// The type/op pairs every backend must support: sum, max and min for every type, avg for
// floating types only (an integer average would silently truncate).
constexpr bool reduction_allowed(DType t, ReduceOp op) {
  return op != ReduceOp::avg || is_floating(t);
}

std::string_view to_string(DType t);
std::string_view to_string(ReduceOp op);
std::string_view to_string(MemoryKind m);
// Parse "f32", "bf16", ... / "sum", "max", ...; throws ody::Error naming `where`.
DType parse_dtype(std::string_view s, std::string_view where = "dtype");
ReduceOp parse_reduce_op(std::string_view s, std::string_view where = "op");

template <class T>
constexpr DType dtype_of() {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_same_v<U, float>)
    return DType::f32;
  else if constexpr (std::is_same_v<U, double>)
    return DType::f64;
  else if constexpr (std::is_same_v<U, ody::bf16>)
    return DType::bf16;
  else if constexpr (std::is_same_v<U, ody::f16>)
    return DType::f16;
  else if constexpr (std::is_same_v<U, std::int32_t>)
    return DType::i32;
  else if constexpr (std::is_same_v<U, std::int64_t>)
    return DType::i64;
  else if constexpr (std::is_same_v<U, std::uint8_t>)
    return DType::u8;
  else
    static_assert(sizeof(T) == 0, "type has no ody::comm::DType");
}

}  // namespace ody::comm
