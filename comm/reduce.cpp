#include "comm/reduce.hpp"

#include <algorithm>

#include "base/half.hpp"

namespace ody::comm {

namespace {

// T is the element type, Acc the type the pair is combined in (f32 for the halves). The
// operation is chosen once, outside the loop, so that the loop vectorises (a switch per
// element kept gcc from it: 57 -> 15 us for 512 KiB of f32 sums at -O3, here).
template <class T, class Acc, class F>
void combine(T* o, const T* x, const T* y, std::int64_t n, F f) {
  for (std::int64_t i = 0; i < n; ++i)
    o[i] = static_cast<T>(f(static_cast<Acc>(x[i]), static_cast<Acc>(y[i])));
}

template <class T, class Acc>
void reduce_as(void* out, const void* a, const void* b, std::int64_t n, ReduceOp op) {
  auto* o = static_cast<T*>(out);
  const auto* x = static_cast<const T*>(a);
  const auto* y = static_cast<const T*>(b);
  switch (op) {
    case ReduceOp::max:
      return combine<T, Acc>(o, x, y, n, [](Acc u, Acc v) { return std::max(u, v); });
    case ReduceOp::min:
      return combine<T, Acc>(o, x, y, n, [](Acc u, Acc v) { return std::min(u, v); });
    default:
      return combine<T, Acc>(o, x, y, n,
                             [](Acc u, Acc v) { return static_cast<Acc>(u + v); });  // sum, avg
  }
}

template <class T>
void divide_typed(T* p, std::int64_t n, int d) {
  for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(p[i] / static_cast<T>(d));
}
template <class Half>
void divide_half(Half* p, std::int64_t n, int d) {
  const float inv = 1.0f / static_cast<float>(d);
  for (std::int64_t i = 0; i < n; ++i) p[i] = Half(static_cast<float>(p[i]) * inv);
}

}  // namespace

void reduce_into(void* out, const void* a, const void* b, std::int64_t n, DType t, ReduceOp op) {
  switch (t) {
    case DType::f32:
      return reduce_as<float, float>(out, a, b, n, op);
    case DType::f64:
      return reduce_as<double, double>(out, a, b, n, op);
    case DType::bf16:
      return reduce_as<ody::bf16, float>(out, a, b, n, op);
    case DType::f16:
      return reduce_as<ody::f16, float>(out, a, b, n, op);
    case DType::i32:
      return reduce_as<std::int32_t, std::int32_t>(out, a, b, n, op);
    case DType::i64:
      return reduce_as<std::int64_t, std::int64_t>(out, a, b, n, op);
    case DType::u8:
      return reduce_as<std::uint8_t, std::uint8_t>(out, a, b, n, op);
  }
}

void divide_in_place(void* p, std::int64_t n, DType t, int d) {
  switch (t) {
    case DType::f32:
      return divide_typed(static_cast<float*>(p), n, d);
    case DType::f64:
      return divide_typed(static_cast<double*>(p), n, d);
    case DType::bf16:
      return divide_half(static_cast<ody::bf16*>(p), n, d);
    case DType::f16:
      return divide_half(static_cast<ody::f16*>(p), n, d);
    default:
      return;
  }
}

}  // namespace ody::comm
