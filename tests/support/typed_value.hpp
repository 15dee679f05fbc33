#pragma once
// Tests' access to one element of a buffer of any comm::DType, as a double (values are
// small integers, exact in every type): shared by the conformance and hierarchical tests.
#include <cstdint>
#include <cstring>

#include "base/half.hpp"
#include "comm/dtype.hpp"

namespace ody::test {

inline void store_value(comm::DType t, void* p, double v) {
  using comm::DType;
  switch (t) {
    case DType::f32: {
      float x = static_cast<float>(v);
      std::memcpy(p, &x, 4);
      break;
    }
    case DType::f64:
      std::memcpy(p, &v, 8);
      break;
    case DType::bf16: {
      bf16 x(static_cast<float>(v));
      std::memcpy(p, &x, 2);
      break;
    }
    case DType::f16: {
      f16 x(static_cast<float>(v));
      std::memcpy(p, &x, 2);
      break;
    }
    case DType::i32: {
      auto x = static_cast<std::int32_t>(v);
      std::memcpy(p, &x, 4);
      break;
    }
    case DType::i64: {
      auto x = static_cast<std::int64_t>(v);
      std::memcpy(p, &x, 8);
      break;
    }
    case DType::u8: {
      auto x = static_cast<std::uint8_t>(v);
      std::memcpy(p, &x, 1);
      break;
    }
  }
}

inline double load_value(comm::DType t, const void* p) {
  using comm::DType;
  switch (t) {
    case DType::f32: {
      float x;
      std::memcpy(&x, p, 4);
      return x;
    }
    case DType::f64: {
      double x;
      std::memcpy(&x, p, 8);
      return x;
    }
    case DType::bf16: {
      bf16 x;
      std::memcpy(&x, p, 2);
      return static_cast<float>(x);
    }
    case DType::f16: {
      f16 x;
      std::memcpy(&x, p, 2);
      return static_cast<float>(x);
    }
    case DType::i32: {
      std::int32_t x;
      std::memcpy(&x, p, 4);
      return x;
    }
    case DType::i64: {
      std::int64_t x;
      std::memcpy(&x, p, 8);
      return static_cast<double>(x);
    }
    case DType::u8: {
      std::uint8_t x;
      std::memcpy(&x, p, 1);
      return x;
    }
  }
  return 0;
}

}  // namespace ody::test
