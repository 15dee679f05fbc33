#pragma once
// Type-erased views of communication buffers: pointer, element count, element type and
// memory kind. They own nothing. `count` is signed so that a negative count coming from
// caller arithmetic is caught by validation instead of wrapping around.
#include <cstdint>
#include <span>

#include "comm/dtype.hpp"

namespace ody::comm {

struct ConstBuf {
  const void* data = nullptr;
  std::int64_t count = 0;
  DType dtype = DType::u8;
  MemoryKind memory = MemoryKind::host;

  std::int64_t bytes() const { return count * static_cast<std::int64_t>(dtype_size(dtype)); }
};

struct Buf {
  void* data = nullptr;
  std::int64_t count = 0;
  DType dtype = DType::u8;
  MemoryKind memory = MemoryKind::host;

  std::int64_t bytes() const { return count * static_cast<std::int64_t>(dtype_size(dtype)); }
  operator ConstBuf() const { return {data, count, dtype, memory}; }
};

template <class T>
Buf buf(T* data, std::int64_t count, MemoryKind memory = MemoryKind::host) {
  return {data, count, dtype_of<T>(), memory};
}
template <class T>
ConstBuf cbuf(const T* data, std::int64_t count, MemoryKind memory = MemoryKind::host) {
  return {data, count, dtype_of<T>(), memory};
}
template <class T>
Buf buf(std::span<T> s) {
  return {s.data(), static_cast<std::int64_t>(s.size()), dtype_of<T>(), MemoryKind::host};
}
template <class T>
ConstBuf cbuf(std::span<const T> s) {
  return {s.data(), static_cast<std::int64_t>(s.size()), dtype_of<T>(), MemoryKind::host};
}
template <class C>
auto buf(C& container) -> decltype(buf(std::span(container))) {
  return buf(std::span(container));
}
template <class C>
auto cbuf(const C& container) -> decltype(cbuf(std::span(container))) {
  return cbuf(std::span(container));
}

}  // namespace ody::comm
