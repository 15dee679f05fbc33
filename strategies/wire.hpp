#pragma once
// What activations travel as (not a public API). Under Precision::bf16 (layers/precision.hpp)
// the strategies send activations, activation gradients and gathered weights as bf16: half
// the bytes, and exact, since the layers produce bf16 values (a value that is not one,
// such as the attention kernel's fp32 output, is rounded on the way, where the single-rank
// Block rounds it too). Partial sums (reduce-scatter / all-reduce of partial outputs and of
// weight gradients) and the ring's fp32 dk/dv accumulators stay fp32 on the wire.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "base/half.hpp"
#include "comm/communicator.hpp"
#include "layers/block.hpp"

namespace ody::strategies::detail {

// Whether activations travel as bf16 for this block, and their bytes per element.
inline bool bf16_wire(const layers::BlockConfig& c) {
  return c.precision == layers::Precision::bf16;
}
inline std::size_t wire_size(const layers::BlockConfig& c) { return bf16_wire(c) ? 2 : 4; }

// The one place the wire type is chosen: calls fn(W{}) with W = bf16 when activations travel
// as bf16, float otherwise (WirePair below keeps a buffer pair of that type).
template <class F>
decltype(auto) with_wire(bool bf16_wire, F&& fn) {
  return bf16_wire ? fn(bf16{}) : fn(float{});
}
template <class F>
decltype(auto) with_wire(const layers::BlockConfig& c, F&& fn) {
  return with_wire(bf16_wire(c), std::forward<F>(fn));
}

// dst[0..n) = src converted (float -> float is a copy; -> bf16 rounds to nearest even).
inline void convert_n(const float* src, std::int64_t n, float* dst) { std::copy_n(src, n, dst); }
inline void convert_n(const float* src, std::int64_t n, bf16* dst) {
  for (std::int64_t e = 0; e < n; ++e) dst[e] = bf16(src[e]);
}
inline void convert_n(const bf16* src, std::int64_t n, float* dst) {
  for (std::int64_t e = 0; e < n; ++e) dst[e] = float(src[e]);
}
// The wire copy of n floats: src itself for a float wire, else a bf16 copy held in `store`.
template <class W>
const W* wire_copy(const float* src, std::int64_t n, std::vector<W>& store) {
  if constexpr (std::is_same_v<W, float>) {
    return src;
  } else {
    store.resize(n);
    convert_n(src, n, store.data());
    return store.data();
  }
}
inline float widen(float x) { return x; }
inline float widen(bf16 x) { return float(x); }

// Blocking all-gather of `count` floats per rank into recv [count · P], sent as bf16 when
// bf16_wire (through temporary bf16 buffers), else as they are.
inline void all_gather_wire(comm::Communicator& comm, const float* send, std::int64_t count,
                            float* recv, bool bf16_wire, comm::Tag tag = 0) {
  if (!bf16_wire) {
    comm.all_gather(comm::cbuf(send, count), comm::buf(recv, count * comm.size()), tag);
    return;
  }
  std::vector<bf16> s(count), r(count * comm.size());
  convert_n(send, count, s.data());
  comm.all_gather(comm::cbuf(s), comm::buf(r), tag);
  convert_n(r.data(), std::int64_t(r.size()), recv);
}

// A send/receive buffer pair in the wire precision; visit(fn) calls fn(send, recv) with the
// std::vector<float> or std::vector<bf16> pair in use.
class WirePair {
 public:
  explicit WirePair(layers::Precision p = layers::Precision::f32)
      : bf16_(p == layers::Precision::bf16) {}
  template <class F>
  decltype(auto) visit(F&& fn) {
    return with_wire(bf16_, [&](auto wire) -> decltype(auto) {
      if constexpr (std::is_same_v<decltype(wire), bf16>)
        return fn(sh_, rh_);
      else
        return fn(sf_, rf_);
    });
  }
  // Frees both buffers (exchange buffers live only while an exchange is in flight).
  void release() {
    std::vector<float>().swap(sf_);
    std::vector<float>().swap(rf_);
    std::vector<bf16>().swap(sh_);
    std::vector<bf16>().swap(rh_);
  }

 private:
  bool bf16_;
  std::vector<float> sf_, rf_;
  std::vector<bf16> sh_, rh_;
};

}  // namespace ody::strategies::detail
