#include "backends/plugin/reduce.hpp"

#include <algorithm>

#include "comm/half.hpp"

namespace ody::backends::plugin {

namespace {

template <class T, class Acc>
void combine_as(void* acc, const void* in, std::int64_t n, comm::ReduceOp op) {
  auto* a = static_cast<T*>(acc);
  const auto* b = static_cast<const T*>(in);
  for (std::int64_t i = 0; i < n; ++i) {
    const Acc x = static_cast<Acc>(a[i]), y = static_cast<Acc>(b[i]);
    Acc r;
    switch (op) {
      case comm::ReduceOp::max: r = std::max(x, y); break;
      case comm::ReduceOp::min: r = std::min(x, y); break;
      default: r = x + y; break;  // sum, avg
    }
    a[i] = static_cast<T>(r);
  }
}

template <class T, class Acc>
void divide_as(void* acc, std::int64_t n, int p) {
  auto* a = static_cast<T*>(acc);
  for (std::int64_t i = 0; i < n; ++i) a[i] = static_cast<T>(static_cast<Acc>(a[i]) / static_cast<Acc>(p));
}

}  // namespace

void combine(void* acc, const void* in, std::int64_t n, comm::DType t, comm::ReduceOp op) {
  using comm::DType;
  switch (t) {
    case DType::f32: return combine_as<float, float>(acc, in, n, op);
    case DType::f64: return combine_as<double, double>(acc, in, n, op);
    case DType::bf16: return combine_as<ody::bf16, float>(acc, in, n, op);
    case DType::f16: return combine_as<ody::f16, float>(acc, in, n, op);
    case DType::i32: return combine_as<std::int32_t, std::int32_t>(acc, in, n, op);
    case DType::i64: return combine_as<std::int64_t, std::int64_t>(acc, in, n, op);
    case DType::u8: return combine_as<std::uint8_t, std::uint8_t>(acc, in, n, op);
  }
}

void divide_by(void* acc, std::int64_t n, comm::DType t, int p) {
  using comm::DType;
  switch (t) {
    case DType::f32: return divide_as<float, float>(acc, n, p);
    case DType::f64: return divide_as<double, double>(acc, n, p);
    case DType::bf16: return divide_as<ody::bf16, float>(acc, n, p);
    case DType::f16: return divide_as<ody::f16, float>(acc, n, p);
    default: return;  // integer avg is rejected by validation
  }
}

}  // namespace ody::backends::plugin
