// CUDA attention (kernels/cuda/attention_cuda.hpp): the CPU test problems on the GPU, the
// result copied back and compared with the fp64 reference. Without a device (no GPU, or
// a driver too old) every test is skipped with CUDA's error string as the reason: they
// never fail for that and never pass without running.
//
// Tolerance: the CPU rule (attention_test_util.hpp) plus what tensor cores add: P and dS
// (and an fp32 dout) are rounded to the 16-bit type before their MMA, each a relative
// error of at most u/2 (u = 2^-7 bf16, 2^-10 f16 machine epsilon); a product passes
// through at most two such roundings, and the sums over keys have random signs, so we
// allow 4 * u * max|X_fp64| on top (gradients: the largest gradient magnitude).
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kernels/attention_test_util.hpp"
#include "kernels/cuda/attention_cuda.hpp"

namespace ody::kernels::test {
namespace {

std::string device_missing_reason() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) return std::string("no usable CUDA device: ") + cudaGetErrorString(e);
  if (n == 0) return "no CUDA device: cudaGetDeviceCount returned 0";
  return "";
}

#define ODY_TEST_CUDA(call)                                                \
  do {                                                                     \
    const cudaError_t e_ = (call);                                         \
    ASSERT_EQ(e_, cudaSuccess) << #call << ": " << cudaGetErrorString(e_); \
  } while (0)

// Device copy of a host vector (freed on scope exit).
template <class X>
struct DeviceBuffer {
  X* ptr = nullptr;
  size_t n = 0;
  explicit DeviceBuffer(const std::vector<X>& host) : n(host.size()) {
    if (n == 0) return;
    void* raw = nullptr;
    if (cudaMalloc(&raw, n * sizeof(X)) != cudaSuccess)
      throw std::runtime_error("cudaMalloc failed");
    ptr = static_cast<X*>(raw);
    if (cudaMemcpy(ptr, host.data(), n * sizeof(X), cudaMemcpyHostToDevice) != cudaSuccess)
      throw std::runtime_error("cudaMemcpy to device failed");
  }
  std::vector<X> to_host() const {
    std::vector<X> h(n);
    if (n && cudaMemcpy(h.data(), ptr, n * sizeof(X), cudaMemcpyDeviceToHost) != cudaSuccess)
      throw std::runtime_error("cudaMemcpy to host failed");
    return h;
  }
  ~DeviceBuffer() {
    if (ptr) cudaFree(ptr);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

template <class T, class TOut>
void run_and_check(Problem p) {
  // Every implementation sees the same 16-bit inputs.
  p.q = round_to<T>(p.q);
  p.k = round_to<T>(p.k);
  p.v = round_to<T>(p.v);
  p.dout = round_to<TOut>(p.dout);
  const Expected ref = reference64(p, true), plain = plain32(p, true);
  DeviceBuffer<T> q(convert<T>(p.q)), k(convert<T>(p.k)), v(convert<T>(p.v));
  DeviceBuffer<TOut> out(std::vector<TOut>(p.q_elems())), dout(convert<TOut>(p.dout));
  DeviceBuffer<float> lse(std::vector<float>(p.lse_elems())), dq(std::vector<float>(p.q_elems())),
      dk(std::vector<float>(p.k_elems())), dv(std::vector<float>(p.k_elems()));
  DeviceBuffer<std::int64_t> pq(p.pos_q), pk(p.pos_k);
  attention_forward_cuda<T, TOut>(out.ptr, lse.ptr, q.ptr, k.ptr, v.ptr, pq.ptr, pk.ptr, p.shape,
                                  p.options);
  attention_backward_cuda<T, TOut>(dq.ptr, dk.ptr, dv.ptr, dout.ptr, q.ptr, k.ptr, v.ptr, out.ptr,
                                   lse.ptr, pq.ptr, pk.ptr, p.shape, p.options);
  ODY_TEST_CUDA(cudaDeviceSynchronize());
  const auto& s = p.shape;
  const double u = unit_roundoff<T>();
  const bool out16 = !std::is_same_v<TOut, float>;
  const auto got_out = to_f64(out.to_host()), got_lse = to_f64(lse.to_host());
  EXPECT_TRUE(all_close(p.name + " out", got_out, ref.out,
                        derived_tolerance(ref.out, plain.out, s.len_k, s.head_dim, out16) +
                            4 * u * max_abs_finite(ref.out),
                        q_dims(s)));
  EXPECT_TRUE(all_close(p.name + " lse", got_lse, ref.lse,
                        derived_tolerance(ref.lse, plain.lse, s.len_k, s.head_dim, false) +
                            4 * u * max_abs_finite(ref.lse),
                        lse_dims(s)));
  const double mag =
      std::max({max_abs_finite(ref.dq), max_abs_finite(ref.dk), max_abs_finite(ref.dv)});
  const std::int64_t n = s.len_q + s.len_k;
  EXPECT_TRUE(all_close(
      p.name + " dq", to_f64(dq.to_host()), ref.dq,
      derived_tolerance(ref.dq, plain.dq, n, s.head_dim, false, mag) + 4 * u * mag, q_dims(s)));
  EXPECT_TRUE(all_close(
      p.name + " dk", to_f64(dk.to_host()), ref.dk,
      derived_tolerance(ref.dk, plain.dk, n, s.head_dim, false, mag) + 4 * u * mag, k_dims(s)));
  EXPECT_TRUE(all_close(
      p.name + " dv", to_f64(dv.to_host()), ref.dv,
      derived_tolerance(ref.dv, plain.dv, n, s.head_dim, false, mag) + 4 * u * mag, k_dims(s)));
}

class AttentionCuda : public ::testing::TestWithParam<Problem> {
 protected:
  void SetUp() override {
    const std::string reason = device_missing_reason();
    if (!reason.empty()) GTEST_SKIP() << reason;
  }
};

TEST_P(AttentionCuda, Bf16MatchesFp64) { run_and_check<ody::bf16, float>(GetParam()); }
TEST_P(AttentionCuda, Bf16OutMatchesFp64) { run_and_check<ody::bf16, ody::bf16>(GetParam()); }
TEST_P(AttentionCuda, F16MatchesFp64) { run_and_check<ody::f16, float>(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Problems, AttentionCuda, ::testing::ValuesIn(standard_problems()),
                         [](const auto& info) { return info.param.name; });

// Ring use on the GPU: forward merged over two key blocks (accumulate), backward
// accumulated over the blocks, equal the whole-key-set result.
TEST(AttentionCudaBlocks, BlockwiseEqualsWhole) {
  const std::string reason = device_missing_reason();
  if (!reason.empty()) GTEST_SKIP() << reason;
  AttentionShape s;
  s.len_q = 256;
  s.len_k = 256;
  s.heads_q = 2;
  s.heads_k = 1;
  s.head_dim = 64;
  Problem p = make_problem("blocks", s, true, zigzag_positions(1, 2, 512),
                           zigzag_positions(1, 2, 512), true, 21);
  const std::int64_t split = 100, HD = s.heads_k * s.head_dim;
  const auto qh = convert<ody::bf16>(p.q), kh = convert<ody::bf16>(p.k),
             vh = convert<ody::bf16>(p.v);
  DeviceBuffer<ody::bf16> q(qh), k(kh), v(vh);
  DeviceBuffer<float> out(std::vector<float>(p.q_elems(), 0.f)),
      lse(std::vector<float>(p.lse_elems(), -INFINITY));
  DeviceBuffer<float> out_w(std::vector<float>(p.q_elems())),
      lse_w(std::vector<float>(p.lse_elems()));
  DeviceBuffer<std::int64_t> pq(p.pos_q), pk(p.pos_k);
  AttentionOptions acc = p.options;
  acc.accumulate = true;
  AttentionShape s1 = s, s2 = s;
  s1.len_k = split;
  s2.len_k = s.len_k - split;
  ForwardLayout fl;
  fl.k = fl.v = Strides{s.len_k * HD, HD, s.head_dim};
  attention_forward_cuda<ody::bf16, float>(out.ptr, lse.ptr, q.ptr, k.ptr, v.ptr, pq.ptr, pk.ptr,
                                           s1, acc, fl);
  attention_forward_cuda<ody::bf16, float>(out.ptr, lse.ptr, q.ptr, k.ptr + split * HD,
                                           v.ptr + split * HD, pq.ptr, pk.ptr + split, s2, acc, fl);
  attention_forward_cuda<ody::bf16, float>(out_w.ptr, lse_w.ptr, q.ptr, k.ptr, v.ptr, pq.ptr,
                                           pk.ptr, s, p.options);
  ODY_TEST_CUDA(cudaDeviceSynchronize());
  const auto o_blocks = to_f64(out.to_host()), o_whole = to_f64(out_w.to_host());
  // Block and whole runs differ only in fp32 merge rounding and the P rounding per tile:
  // within the bf16 allowance of the comparison above.
  EXPECT_TRUE(all_close("blocks out", o_blocks, o_whole, 4 * (1.0 / 128) * max_abs_finite(o_whole),
                        q_dims(s)));
  EXPECT_TRUE(all_close("blocks lse", to_f64(lse.to_host()), to_f64(lse_w.to_host()),
                        1e-4 * (1 + max_abs_finite(to_f64(lse_w.to_host()))), lse_dims(s)));
}

}  // namespace
}  // namespace ody::kernels::test
