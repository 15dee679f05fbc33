// Benchmark of the CUDA attention kernels (kernels/cuda/attention_cuda.hpp) for a bare GPU
// machine (docs/gpu.md): forward and backward of one self-attention layer, timed with
// cudaEvent, one JSON line per configuration on stdout:
//   {"impl":"ody","L":4096,"Dh":128,"heads":16,"batch":1,"causal":true,"dtype":"bf16",
//    "fwd_ms":..,"bwd_ms":..,"fwd_tflops":..,"bwd_tflops":..,"fwdbwd_tflops":..,...}
// FLOPs by the convention of kernels/attention.hpp: forward 4 B H L^2 Dh, backward 2.5x
// that, both halved when causal. Inputs q, k, v [B, L, H, Dh] and dout are T (bf16 or
// f16), out is T too (as PyTorch's SDPA, gpu/sdpa_bench.py), dq, dk, dv are fp32 (the
// kernels' contract). Backward is timed on its own, from the forward's out and lse, with
// its workspace allocated once. Each time is the median of `reps` calls after one
// warm-up call; reps = min(--max-reps, --target-ms / warm-up time), and a call slower
// than --target-ms is timed once (its warm-up call; reps 0 in the JSON).
//
// usage: attention_cuda_bench [--L 4096[,8192,...]] [--dh 128[,64]] [--causal 0[,1]]
//          [--heads N (default 2048 / Dh)] [--batch 1] [--dtype bf16|f16]
//          [--target-ms 1000] [--max-reps 10] [--probe]
// Exit 0: every configuration ran; 1: one failed (a JSON line with "error" says why);
// 2: no usable CUDA device ("no CUDA device: ..."); 3: bad arguments.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <sstream>
#include <string>
#include <vector>

#include "base/half.hpp"
#include "gpu/cuda_util.hpp"
#include "kernels/cuda/attention_cuda.hpp"

namespace ody::gpu {
namespace {

using kernels::AttentionOptions;
using kernels::AttentionShape;

struct Args {
  std::vector<std::int64_t> lens{4096}, dims{128}, causal{0};
  std::int64_t heads = 0, batch = 1;
  std::string dtype = "bf16";
  double target_ms = 1000;
  int max_reps = 10;
  bool probe = false;
};

std::vector<std::int64_t> parse_list(const std::string& s) {
  std::vector<std::int64_t> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    std::size_t used = 0;
    const long long x = std::stoll(item, &used);
    if (used != item.size()) throw std::invalid_argument(item);
    v.push_back(x);
  }
  if (v.empty()) throw std::invalid_argument(s);
  return v;
}

bool parse(int argc, char** argv, Args& a) {
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string k = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(k + " needs a value");
        return argv[++i];
      };
      if (k == "--L")
        a.lens = parse_list(value());
      else if (k == "--dh")
        a.dims = parse_list(value());
      else if (k == "--causal")
        a.causal = parse_list(value());
      else if (k == "--heads")
        a.heads = std::stoll(value());
      else if (k == "--batch")
        a.batch = std::stoll(value());
      else if (k == "--dtype")
        a.dtype = value();
      else if (k == "--target-ms")
        a.target_ms = std::stod(value());
      else if (k == "--max-reps")
        a.max_reps = std::stoi(value());
      else if (k == "--probe")
        a.probe = true;
      else
        throw std::invalid_argument("unknown argument " + k);
    }
    if (a.dtype != "bf16" && a.dtype != "f16") throw std::invalid_argument("--dtype bf16|f16");
    for (auto d : a.dims)
      if (d <= 0 || d > 128) throw std::invalid_argument("--dh in 1..128");
    for (auto l : a.lens)
      if (l <= 0) throw std::invalid_argument("--L > 0");
    if (a.batch <= 0 || a.heads < 0 || a.max_reps < 0 || !(a.target_ms >= 0))
      throw std::invalid_argument("--batch > 0, --heads >= 0, --max-reps >= 0, --target-ms >= 0");
  } catch (const std::exception& e) {
    std::fprintf(stderr,
                 "attention_cuda_bench: %s\n"
                 "usage: attention_cuda_bench [--L 4096[,8192,...]] [--dh 128[,64]] "
                 "[--causal 0[,1]] [--heads N] [--batch 1] [--dtype bf16|f16] "
                 "[--target-ms 1000] [--max-reps 10] [--probe]\n",
                 e.what());
    return false;
  }
  return true;
}

// Fills n elements with uniform values in [-range, range): a host pool of 2^22 + 7
// values copied over the buffer from a seed-dependent offset (fast at any size; the
// kernels' speed does not depend on the values).
template <class T>
void fill_uniform(T* dst, std::size_t n, unsigned seed, float range) {
  const std::size_t pool_n = (std::size_t{1} << 22) + 7;
  std::vector<T> pool(pool_n);
  std::uint64_t x = 0x9e3779b97f4a7c15ull * (seed + 1);
  for (auto& e : pool) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const float u = static_cast<float>(x >> 40) / static_cast<float>(1u << 24);  // [0, 1)
    e = T((2 * u - 1) * range);
  }
  DeviceBuffer<T> dpool(pool);
  std::size_t at = 0, from = (seed * 1000003u) % pool_n;
  while (at < n) {
    const std::size_t m = std::min(n - at, pool_n - from);
    ODY_GPU_CHECK(
        cudaMemcpy(dst + at, dpool.get() + from, m * sizeof(T), cudaMemcpyDeviceToDevice));
    at += m;
    from = 0;
  }
}

class Events {
 public:
  Events() {
    ODY_GPU_CHECK(cudaEventCreate(&start_));
    ODY_GPU_CHECK(cudaEventCreate(&stop_));
  }
  ~Events() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  Events(const Events&) = delete;
  Events& operator=(const Events&) = delete;
  template <class F>
  double time_ms(F&& f) {
    ODY_GPU_CHECK(cudaEventRecord(start_));
    f();
    ODY_GPU_CHECK(cudaEventRecord(stop_));
    ODY_GPU_CHECK(cudaEventSynchronize(stop_));
    ODY_GPU_CHECK(cudaGetLastError());
    float ms = 0;
    ODY_GPU_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return ms;
  }

 private:
  cudaEvent_t start_{}, stop_{};
};

struct Timing {
  double ms = 0, min_ms = 0, warm_ms = 0;
  int reps = 0;
};

template <class F>
Timing measure(Events& ev, const Args& a, F&& f) {
  Timing t;
  t.warm_ms = ev.time_ms(f);
  const double want = t.warm_ms > 0 ? a.target_ms / t.warm_ms : a.max_reps;
  t.reps = static_cast<int>(std::min<double>(a.max_reps, std::floor(want)));
  if (t.reps <= 0) {
    t.reps = 0;
    t.ms = t.min_ms = t.warm_ms;
    return t;
  }
  std::vector<double> ts;
  for (int r = 0; r < t.reps; ++r) ts.push_back(ev.time_ms(f));
  std::sort(ts.begin(), ts.end());
  t.ms = ts[ts.size() / 2];
  t.min_ms = ts.front();
  return t;
}

template <class X>
bool all_finite(const DeviceBuffer<X>& b) {
  for (const X& x : b.to_host())
    if (!std::isfinite(static_cast<float>(x))) return false;
  return true;
}

struct Config {
  std::int64_t len, dh, heads, batch;
  bool causal;
};

std::string config_json(const Config& c, const std::string& dtype) {
  std::ostringstream os;
  os << "{\"impl\":\"ody\",\"L\":" << c.len << ",\"Dh\":" << c.dh << ",\"heads\":" << c.heads
     << ",\"batch\":" << c.batch << ",\"causal\":" << (c.causal ? "true" : "false")
     << ",\"dtype\":\"" << dtype << "\"";
  return os.str();
}

std::string json_string(const std::string& s) {
  std::string o = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') o += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) ch = ' ';
    o += ch;
  }
  return o + "\"";
}

template <class T>
std::string run_config(const Config& c, const Args& a) {
  AttentionShape s;
  s.batch = c.batch;
  s.len_q = s.len_k = c.len;
  s.heads_q = s.heads_k = c.heads;
  s.head_dim = c.dh;
  AttentionOptions o;
  o.causal = c.causal;
  const auto n = static_cast<std::size_t>(c.batch * c.len * c.heads * c.dh);
  const auto n_lse = static_cast<std::size_t>(c.batch * c.heads * c.len);
  DeviceBuffer<T> q(n), k(n), v(n), out(n), dout(n);
  DeviceBuffer<float> lse(n_lse), dq(n), dk(n), dv(n);
  DeviceBuffer<unsigned char> ws(kernels::attention_backward_cuda_workspace_bytes(s));
  std::vector<std::int64_t> pos(static_cast<std::size_t>(c.len));
  for (std::int64_t i = 0; i < c.len; ++i) pos[static_cast<std::size_t>(i)] = i;
  DeviceBuffer<std::int64_t> dpos(pos);
  fill_uniform(q.get(), n, 1, 2.f);
  fill_uniform(k.get(), n, 2, 2.f);
  fill_uniform(v.get(), n, 3, 1.f);
  fill_uniform(dout.get(), n, 4, 1.f);
  ODY_GPU_CHECK(cudaDeviceSynchronize());

  Events ev;
  const Timing fwd = measure(ev, a, [&] {
    kernels::attention_forward_cuda<T, T>(out.get(), lse.get(), q.get(), k.get(), v.get(),
                                          dpos.get(), dpos.get(), s, o);
  });
  const Timing bwd = measure(ev, a, [&] {
    kernels::attention_backward_cuda<T, T>(dq.get(), dk.get(), dv.get(), dout.get(), q.get(),
                                           k.get(), v.get(), out.get(), lse.get(), dpos.get(),
                                           dpos.get(), s, o, {}, ws.get());
  });
  const bool finite =
      all_finite(out) && all_finite(lse) && all_finite(dq) && all_finite(dk) && all_finite(dv);

  // kernels/attention.hpp's convention (attention_forward_flops is in the CPU sources,
  // which this build leaves out).
  const double fwd_flop = 4.0 * static_cast<double>(c.batch * c.heads) *
                          static_cast<double>(c.len) * static_cast<double>(c.len) *
                          static_cast<double>(c.dh) * (c.causal ? 0.5 : 1.0);
  const double bwd_flop = 2.5 * fwd_flop;
  auto tflops = [](double flop, double ms) { return ms > 0 ? flop / (ms * 1e-3) / 1e12 : 0.0; };
  std::ostringstream os;
  os.precision(6);
  os << config_json(c, a.dtype) << ",\"fwd_ms\":" << fwd.ms << ",\"bwd_ms\":" << bwd.ms
     << ",\"fwd_tflops\":" << tflops(fwd_flop, fwd.ms)
     << ",\"bwd_tflops\":" << tflops(bwd_flop, bwd.ms)
     << ",\"fwdbwd_tflops\":" << tflops(fwd_flop + bwd_flop, fwd.ms + bwd.ms)
     << ",\"fwd_min_ms\":" << fwd.min_ms << ",\"bwd_min_ms\":" << bwd.min_ms
     << ",\"fwd_warm_ms\":" << fwd.warm_ms << ",\"bwd_warm_ms\":" << bwd.warm_ms
     << ",\"fwd_reps\":" << fwd.reps << ",\"bwd_reps\":" << bwd.reps << ",\"fwd_flop\":" << fwd_flop
     << ",\"bwd_flop\":" << bwd_flop << ",\"out_dtype\":\"" << a.dtype
     << "\",\"grad_dtype\":\"fp32\""
     << ",\"finite\":" << (finite ? "true" : "false")
     << ",\"device\":" << json_string(device_name()) << "}";
  return os.str();
}

int run(int argc, char** argv) {
  Args a;
  if (!parse(argc, argv, a)) return 3;
  const std::string problem = device_problem();
  if (!problem.empty()) {
    std::printf("%s\n", problem.c_str());
    return 2;
  }
  if (a.probe) {
    std::printf("device: %s\n", device_description().c_str());
    return 0;
  }
  int failed = 0;
  for (auto len : a.lens)
    for (auto dh : a.dims)
      for (auto causal : a.causal) {
        const Config c{len, dh, a.heads > 0 ? a.heads : std::max<std::int64_t>(1, 2048 / dh),
                       a.batch, causal != 0};
        std::string line;
        try {
          line = a.dtype == "bf16" ? run_config<ody::bf16>(c, a) : run_config<ody::f16>(c, a);
        } catch (const std::exception& e) {
          ++failed;
          line = config_json(c, a.dtype) + ",\"error\":" + json_string(e.what()) + "}";
        }
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
      }
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace ody::gpu

int main(int argc, char** argv) {
  try {
    return ody::gpu::run(argc, argv);
  } catch (const std::exception& e) {
    std::printf("attention_cuda_bench: %s\n", e.what());
    return 1;
  }
}
