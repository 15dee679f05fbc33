// Memory of the CPU attention kernels: scratch is O((Lq + Lk) Dh), never O(Lq Lk).
// This binary replaces global operator new/delete with counting versions, so the bytes
// the kernels allocate (their whole scratch: OpenBLAS's fixed buffers are outside C++
// allocation and do not grow with L) are measured, not assumed.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "kernels/attention.hpp"
#include "kernels/attention_test_util.hpp"

namespace {
std::atomic<long long> g_live{0}, g_peak{0}, g_allocs{0};
std::atomic<bool> g_counting{false};

void* counted_alloc(std::size_t n) {
  // 16-byte header keeps the size (and the default new alignment) for delete.
  void* raw = std::malloc(n + 16);
  if (raw == nullptr) throw std::bad_alloc();
  *static_cast<std::size_t*>(raw) = n;
  if (g_counting.load()) {
    const long long live = g_live.fetch_add(static_cast<long long>(n)) + static_cast<long long>(n);
    long long peak = g_peak.load();
    while (live > peak && !g_peak.compare_exchange_weak(peak, live)) {
    }
    g_allocs.fetch_add(1);
  }
  return static_cast<char*>(raw) + 16;
}
void counted_free(void* p) {
  if (p == nullptr) return;
  void* raw = static_cast<char*>(p) - 16;
  if (g_counting.load()) g_live.fetch_sub(static_cast<long long>(*static_cast<std::size_t*>(raw)));
  std::free(raw);
}
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }

namespace ody::kernels::test {
namespace {

struct Counting {
  Counting() {
    g_live = 0;
    g_peak = 0;
    g_allocs = 0;
    g_counting = true;
  }
  ~Counting() { g_counting = false; }
};

template <class T>
void run_forward_backward(std::int64_t L, std::int64_t Dh, bool with_workspace, long long* peak,
                          long long* allocs) {
  AttentionShape s;
  s.len_q = L;
  s.len_k = L;
  s.head_dim = Dh;
  AttentionOptions o;
  o.causal = true;
  const size_t n = static_cast<size_t>(L * Dh);
  std::vector<T> q(n, T(0.01f)), k(n, T(0.02f)), v(n, T(1.f)), out(n);
  std::vector<float> lse(static_cast<size_t>(L)), dq(n), dk(n), dv(n);
  std::vector<T> dout(n, T(1.f));
  const auto pos = contiguous_positions(0, L);
  const size_t ws_bytes =
      std::max(attention_forward_workspace_bytes<T>(s), attention_backward_workspace_bytes<T>(s));
  std::vector<std::byte> buf(with_workspace ? ws_bytes : 0);
  Workspace ws{buf.data(), buf.size()};
  Workspace* wp = with_workspace ? &ws : nullptr;
  Counting c;
  attention_forward<T, T>(out.data(), lse.data(), q.data(), k.data(), v.data(), pos.data(),
                          pos.data(), s, o, {}, wp);
  attention_backward<T, T>(dq.data(), dk.data(), dv.data(), dout.data(), q.data(), k.data(),
                           v.data(), out.data(), lse.data(), pos.data(), pos.data(), s, o, {}, wp);
  *peak = g_peak.load();
  *allocs = g_allocs.load();
  // Uniform keys: every visible key equally likely, out = v exactly up to rounding.
  EXPECT_NEAR(static_cast<float>(out[n - 1]), 1.f, 1e-2f);
}

template <class T>
void check_scratch_is_linear() {
  const std::int64_t L = 8192, Dh = 64;
  AttentionShape s;
  s.len_q = L;
  s.len_k = L;
  s.head_dim = Dh;
  const size_t fwd = attention_forward_workspace_bytes<T>(s),
               bwd = attention_backward_workspace_bytes<T>(s);
  long long peak = 0, allocs = 0;
  run_forward_backward<T>(L, Dh, false, &peak, &allocs);
  // What the kernels allocate is exactly the documented workspace (one block per call).
  EXPECT_LE(peak, static_cast<long long>(std::max(fwd, bwd)));
  EXPECT_GE(peak, static_cast<long long>(std::min(fwd, bwd)));
  // O(L Dh): at most 8 fp32 rows of Dh per token (bf16 widens q, k, v, dout: 4; plus
  // per-row scalars and fixed tiles), far below one L x L fp32 matrix (256 MiB here).
  EXPECT_LE(static_cast<double>(peak), 8.0 * L * Dh * 4 + (4 << 20));
  EXPECT_LT(static_cast<double>(peak), 0.05 * static_cast<double>(L) * L * 4);
  // Doubling L adds the same amount again: linear, not quadratic.
  AttentionShape s2 = s, s4 = s;
  s2.len_q = s2.len_k = 2 * L;
  s4.len_q = s4.len_k = 4 * L;
  const double d1 =
      static_cast<double>(attention_backward_workspace_bytes<T>(s2)) - static_cast<double>(bwd);
  const double d2 = static_cast<double>(attention_backward_workspace_bytes<T>(s4)) -
                    static_cast<double>(attention_backward_workspace_bytes<T>(s2));
  EXPECT_NEAR(d2 / d1, 2.0, 0.01);
  // With a caller workspace the kernels allocate nothing.
  run_forward_backward<T>(L, Dh, true, &peak, &allocs);
  EXPECT_EQ(allocs, 0);
  EXPECT_EQ(peak, 0);
}

TEST(AttentionMemory, ScratchIsLinearF32) { check_scratch_is_linear<float>(); }
TEST(AttentionMemory, ScratchIsLinearBf16) { check_scratch_is_linear<ody::bf16>(); }

}  // namespace
}  // namespace ody::kernels::test
