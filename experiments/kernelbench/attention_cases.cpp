// Attention cases of ody-kernelbench: fused CPU attention forward/backward throughput at
// L in {1K, 4K, 16K}, Dh in {64, 128}, causal and not, fp32 (bf16 at L = 4K), and peak
// memory of forward + backward at L = 64K (one head).
//
// FLOP convention (kernels/attention.hpp): forward 4*B*H*Lq*Lk*Dh, backward 10*B*H*Lq*Lk*Dh
// (2.5x forward: QK^T recomputed plus four GEMMs); causal (Lq = Lk, contiguous positions)
// counts half of each.
#include <sys/resource.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "base/half.hpp"
#include "kernelbench/harness.hpp"
#include "kernels/attention.hpp"

namespace {

using ody::kernels::AttentionOptions;
using ody::kernels::AttentionShape;
constexpr const char* kFlopConvention =
    "fwd 4*B*H*Lq*Lk*Dh, bwd 10*B*H*Lq*Lk*Dh (2.5x fwd); causal counts half";

template <class T>
struct Buffers {
  AttentionShape shape;
  AttentionOptions options;
  std::vector<T> q, k, v, out, dout;
  std::vector<float> lse, dq, dk, dv;
  std::vector<std::int64_t> pos;

  Buffers(AttentionShape s, bool causal, bool backward) : shape(s) {
    options.causal = causal;
    const size_t nq = static_cast<size_t>(s.batch * s.len_q * s.heads_q * s.head_dim);
    const size_t nk = static_cast<size_t>(s.batch * s.len_k * s.heads_k * s.head_dim);
    std::mt19937 gen(42);
    std::normal_distribution<float> dist(0.f, 1.f);
    auto fill = [&](std::vector<T>& x, size_t n) {
      x.resize(n);
      for (auto& e : x) e = T(dist(gen));
    };
    fill(q, nq);
    fill(k, nk);
    fill(v, nk);
    out.resize(nq);
    lse.resize(static_cast<size_t>(s.batch * s.heads_q * s.len_q));
    pos.resize(static_cast<size_t>(std::max(s.len_q, s.len_k)));
    for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<std::int64_t>(i);
    if (backward) {
      fill(dout, nq);
      dq.resize(nq);
      dk.resize(nk);
      dv.resize(nk);
    }
  }
  void forward() {
    ody::kernels::attention_forward<T, T>(out.data(), lse.data(), q.data(), k.data(), v.data(),
                                          pos.data(), pos.data(), shape, options);
  }
  void backward() {
    ody::kernels::attention_backward<T, T>(dq.data(), dk.data(), dv.data(), dout.data(), q.data(),
                                           k.data(), v.data(), out.data(), lse.data(), pos.data(),
                                           pos.data(), shape, options);
  }
};

AttentionShape one_head(std::int64_t L, std::int64_t Dh) {
  AttentionShape s;
  s.len_q = s.len_k = L;
  s.head_dim = Dh;
  return s;
}

template <class T>
ody::kernelbench::Case throughput_case(std::int64_t L, std::int64_t Dh, bool causal, bool backward,
                                       const char* dtype) {
  ody::kernelbench::Case c;
  const AttentionShape s = one_head(L, Dh);
  const char* dir = backward ? "bwd" : "fwd";
  c.name = std::string("attention/") + dir + "/" + dtype + "/L=" + std::to_string(L) +
           "/Dh=" + std::to_string(Dh) + (causal ? "/causal" : "/full");
  c.fields = {{"kernel", "attention"},
              {"direction", dir},
              {"L", L},
              {"Dh", Dh},
              {"causal", causal},
              {"dtype", dtype},
              {"B", s.batch},
              {"H", s.heads_q},
              {"flop_convention", kFlopConvention}};
  c.flops = backward ? ody::kernels::attention_backward_flops(s, causal)
                     : ody::kernels::attention_forward_flops(s, causal);
  c.prepare = [s, causal, backward]() -> std::function<void()> {
    auto b = std::make_shared<Buffers<T>>(s, causal, backward);
    if (!backward) return [b] { b->forward(); };
    b->forward();  // backward needs the forward's out and lse (not timed)
    return [b] { b->backward(); };
  };
  return c;
}

long long current_rss_kib() {
  std::ifstream f("/proc/self/statm");
  long long size = 0, resident = 0;
  f >> size >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}
long long max_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;  // KiB on Linux
}

// Peak memory of forward + backward on one head: the rise of the process's peak RSS over
// what the inputs and outputs already occupy. O(L Dh) expected; an L x L fp32 matrix
// would be L^2 * 4 bytes (16 GiB at 64K).
ody::kernelbench::Case memory_case(std::int64_t L, std::int64_t Dh) {
  ody::kernelbench::Case c;
  c.name = "attention_mem/f32/L=" + std::to_string(L) + "/Dh=" + std::to_string(Dh) + "/causal";
  c.fields = {{"kernel", "attention_mem"},
              {"direction", "fwd+bwd"},
              {"L", L},
              {"Dh", Dh},
              {"causal", true},
              {"dtype", "f32"},
              {"B", 1},
              {"H", 1}};
  c.measure = [L, Dh]() -> nlohmann::json {
    const AttentionShape s = one_head(L, Dh);
    Buffers<float> b(s, true, true);  // allocated and written: resident before measuring
    const long long rss0 = current_rss_kib(), max0 = max_rss_kib();
    const auto t0 = std::chrono::steady_clock::now();
    b.forward();
    b.backward();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const long long max1 = max_rss_kib();
    const double extra =
        1024.0 * static_cast<double>(max1 - std::max(rss0, max0 > rss0 ? rss0 : max0));
    const double io = 4.0 * (8.0 * static_cast<double>(L) * Dh + L);
    const double ws =
        static_cast<double>(std::max(ody::kernels::attention_forward_workspace_bytes<float>(s),
                                     ody::kernels::attention_backward_workspace_bytes<float>(s)));
    return {
        {"seconds", secs},
        {"peak_rss_rise_bytes", std::max(0.0, extra)},
        {"rss_before_bytes", 1024.0 * rss0},
        {"io_bytes", io},
        {"workspace_bytes", ws},
        {"workspace_per_token_bytes", ws / static_cast<double>(L)},
        {"lxl_f32_bytes", 4.0 * static_cast<double>(L) * L},
        {"note", "peak_rss_rise: max RSS after fwd+bwd minus RSS with inputs/outputs resident"}};
  };
  return c;
}

std::vector<ody::kernelbench::Case> attention_cases(const ody::kernelbench::Config& cfg) {
  std::vector<ody::kernelbench::Case> v;
  const std::vector<std::int64_t> lens = cfg.quick ? std::vector<std::int64_t>{256, 512}
                                                   : std::vector<std::int64_t>{1024, 4096, 16384};
  const std::int64_t bf16_len = cfg.quick ? 512 : 4096;
  for (bool backward : {false, true})
    for (std::int64_t L : lens)
      for (std::int64_t Dh : {64, 128})
        for (bool causal : {false, true}) {
          v.push_back(throughput_case<float>(L, Dh, causal, backward, "f32"));
          if (L == bf16_len)
            v.push_back(throughput_case<ody::bf16>(L, Dh, causal, backward, "bf16"));
        }
  v.push_back(memory_case(cfg.quick ? 4096 : 65536, 64));
  return v;
}

const bool kRegistered = ody::kernelbench::register_group("attention", &attention_cases);

}  // namespace
