#include "backends/ucx/reduce.hpp"

#include <algorithm>

#include "comm/half.hpp"

namespace ody::backends::ucx {

namespace {

using comm::DType;
using comm::ReduceOp;

template <class T, class Op>
void combine(T* out, const T* a, const T* b, std::int64_t n, Op op) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = op(a[i], b[i]);
}

template <class T>
void typed(void* out, const void* a, const void* b, std::int64_t n, ReduceOp op) {
  auto* o = static_cast<T*>(out);
  const auto* x = static_cast<const T*>(a);
  const auto* y = static_cast<const T*>(b);
  switch (op) {
    case ReduceOp::sum:
    case ReduceOp::avg: combine(o, x, y, n, [](T u, T v) { return static_cast<T>(u + v); }); break;
    case ReduceOp::max: combine(o, x, y, n, [](T u, T v) { return std::max(u, v); }); break;
    case ReduceOp::min: combine(o, x, y, n, [](T u, T v) { return std::min(u, v); }); break;
  }
}

template <class Half>
void half(void* out, const void* a, const void* b, std::int64_t n, ReduceOp op) {
  auto* o = static_cast<Half*>(out);
  const auto* x = static_cast<const Half*>(a);
  const auto* y = static_cast<const Half*>(b);
  auto f = [](Half h) { return static_cast<float>(h); };
  switch (op) {
    case ReduceOp::sum:
    case ReduceOp::avg: combine(o, x, y, n, [&](Half u, Half v) { return Half(f(u) + f(v)); }); break;
    case ReduceOp::max: combine(o, x, y, n, [&](Half u, Half v) { return Half(std::max(f(u), f(v))); }); break;
    case ReduceOp::min: combine(o, x, y, n, [&](Half u, Half v) { return Half(std::min(f(u), f(v))); }); break;
  }
}

}  // namespace

void reduce_into(void* out, const void* a, const void* b, std::int64_t n, DType t, ReduceOp op) {
  switch (t) {
    case DType::f32: typed<float>(out, a, b, n, op); break;
    case DType::f64: typed<double>(out, a, b, n, op); break;
    case DType::bf16: half<ody::bf16>(out, a, b, n, op); break;
    case DType::f16: half<ody::f16>(out, a, b, n, op); break;
    case DType::i32: typed<std::int32_t>(out, a, b, n, op); break;
    case DType::i64: typed<std::int64_t>(out, a, b, n, op); break;
    case DType::u8: typed<std::uint8_t>(out, a, b, n, op); break;
  }
}

void divide_in_place(void* p, std::int64_t n, DType t, int divisor) {
  switch (t) {
    case DType::f32: {
      auto* x = static_cast<float*>(p);
      for (std::int64_t i = 0; i < n; ++i) x[i] = x[i] / static_cast<float>(divisor);
      break;
    }
    case DType::f64: {
      auto* x = static_cast<double*>(p);
      for (std::int64_t i = 0; i < n; ++i) x[i] = x[i] / divisor;
      break;
    }
    case DType::bf16: {
      auto* x = static_cast<ody::bf16*>(p);
      for (std::int64_t i = 0; i < n; ++i) x[i] = ody::bf16(static_cast<float>(x[i]) / divisor);
      break;
    }
    case DType::f16: {
      auto* x = static_cast<ody::f16*>(p);
      for (std::int64_t i = 0; i < n; ++i) x[i] = ody::f16(static_cast<float>(x[i]) / divisor);
      break;
    }
    default: break;  // validation rejects avg on integer types
  }
}

}  // namespace ody::backends::ucx
