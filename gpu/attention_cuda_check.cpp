// The CUDA attention check for a bare GPU machine (docs/gpu.md): the cases of
// tests/kernels/attention_cuda_test.cpp, run without GoogleTest.
//   - every standard problem (tests/kernels/attention_test_util.hpp) three times, as the
//     gtest does: bf16 inputs with fp32 out (Bf16MatchesFp64), bf16 with bf16 out
//     (Bf16OutMatchesFp64), f16 with fp32 out (F16MatchesFp64); forward then backward,
//     out, lse, dq, dk, dv compared with the fp64 CPU reference with the gtest's tolerance
//     (the derived rule plus 4 u max|X_fp64|, u the 16-bit type's machine epsilon);
//   - the block-wise ring case (AttentionCudaBlocks.BlockwiseEqualsWhole);
//   - not in the gtest: long sequences (L = 16384, Dh 64 and 128, causal and not, bf16),
//     whose out, lse and dq are compared with the fp64 reference on sampled query rows
//     (a row's out, lse and dq depend on no other query row; dk and dv need every row
//     and are not checked there).
// One line per case, "NAME: PASS (worst/tol: out .. lse .. dq .. dk .. dv ..) [ms]" or
// "NAME: FAIL (...): what failed, where, got and expected [ms]" (the name is printed
// before the case runs, so a hang leaves it on the last line), then "N passed, N failed".
// worst/tol is each output's max |got - ref| over its tolerance: at most 1 passes.
// Exit 0: all passed; 1: a case failed; 2: no usable CUDA device (one line "no CUDA
// device: <CUDA's reason>"); 3: bad arguments.
//
// usage: attention_cuda_check [--filter SUBSTRING] [--no-long] [--list]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "gpu/cuda_util.hpp"
#include "kernels/attention_test_util.hpp"
#include "kernels/cuda/attention_cuda.hpp"

namespace ody::kernels::test {
namespace {

using gpu::DeviceBuffer;

// One compared output of a case.
struct Part {
  std::string what;
  double worst = 0, tol = 0;
  bool ok = true;
  std::string message;  // all_close's, when not ok
};
using Parts = std::vector<Part>;

void compare(Parts& parts, const std::string& what, const std::vector<double>& got,
             const std::vector<double>& ref, double tol, std::vector<std::int64_t> dims) {
  Part p;
  p.what = what;
  p.worst = got.size() == ref.size() ? max_abs_diff(got, ref) : INFINITY;
  p.tol = tol;
  const ::testing::AssertionResult r = all_close(what, got, ref, tol, std::move(dims));
  p.ok = static_cast<bool>(r);
  if (!p.ok) p.message = r.message();
  parts.push_back(std::move(p));
}

// Device results of forward then backward on a problem (inputs rounded to T, TOut).
struct GpuResult {
  std::vector<double> out, lse, dq, dk, dv;
};
template <class T, class TOut>
GpuResult run_gpu(const Problem& p) {
  DeviceBuffer<T> q(convert<T>(p.q)), k(convert<T>(p.k)), v(convert<T>(p.v));
  DeviceBuffer<TOut> out(p.q_elems()), dout(convert<TOut>(p.dout));
  DeviceBuffer<float> lse(p.lse_elems()), dq(p.q_elems()), dk(p.k_elems()), dv(p.k_elems());
  DeviceBuffer<std::int64_t> pq(p.pos_q), pk(p.pos_k);
  attention_forward_cuda<T, TOut>(out.get(), lse.get(), q.get(), k.get(), v.get(), pq.get(),
                                  pk.get(), p.shape, p.options);
  attention_backward_cuda<T, TOut>(dq.get(), dk.get(), dv.get(), dout.get(), q.get(), k.get(),
                                   v.get(), out.get(), lse.get(), pq.get(), pk.get(), p.shape,
                                   p.options);
  ODY_GPU_CHECK(cudaDeviceSynchronize());
  return {to_f64(out.to_host()), to_f64(lse.to_host()), to_f64(dq.to_host()), to_f64(dk.to_host()),
          to_f64(dv.to_host())};
}

// AttentionCuda.{Bf16,Bf16Out,F16}MatchesFp64: run_and_check of the gtest.
template <class T, class TOut>
Parts standard_case(Problem p) {
  // Every implementation sees the same 16-bit inputs.
  p.q = round_to<T>(p.q);
  p.k = round_to<T>(p.k);
  p.v = round_to<T>(p.v);
  p.dout = round_to<TOut>(p.dout);
  const Expected ref = reference64(p, true), plain = plain32(p, true);
  const GpuResult got = run_gpu<T, TOut>(p);
  const auto& s = p.shape;
  const double u = unit_roundoff<T>();
  const bool out16 = !std::is_same_v<TOut, float>;
  Parts parts;
  compare(parts, "out", got.out, ref.out,
          derived_tolerance(ref.out, plain.out, s.len_k, s.head_dim, out16) +
              4 * u * max_abs_finite(ref.out),
          q_dims(s));
  compare(parts, "lse", got.lse, ref.lse,
          derived_tolerance(ref.lse, plain.lse, s.len_k, s.head_dim, false) +
              4 * u * max_abs_finite(ref.lse),
          lse_dims(s));
  const double mag =
      std::max({max_abs_finite(ref.dq), max_abs_finite(ref.dk), max_abs_finite(ref.dv)});
  const std::int64_t n = s.len_q + s.len_k;
  compare(parts, "dq", got.dq, ref.dq,
          derived_tolerance(ref.dq, plain.dq, n, s.head_dim, false, mag) + 4 * u * mag, q_dims(s));
  compare(parts, "dk", got.dk, ref.dk,
          derived_tolerance(ref.dk, plain.dk, n, s.head_dim, false, mag) + 4 * u * mag, k_dims(s));
  compare(parts, "dv", got.dv, ref.dv,
          derived_tolerance(ref.dv, plain.dv, n, s.head_dim, false, mag) + 4 * u * mag, k_dims(s));
  return parts;
}

// AttentionCudaBlocks.BlockwiseEqualsWhole: forward merged over two key blocks
// (accumulate) equals the whole-key-set result.
Parts blockwise_case() {
  AttentionShape s;
  s.len_q = 256;
  s.len_k = 256;
  s.heads_q = 2;
  s.heads_k = 1;
  s.head_dim = 64;
  Problem p = make_problem("blocks", s, true, zigzag_positions(1, 2, 512),
                           zigzag_positions(1, 2, 512), true, 21);
  const std::int64_t split = 100, HD = s.heads_k * s.head_dim;
  DeviceBuffer<ody::bf16> q(convert<ody::bf16>(p.q)), k(convert<ody::bf16>(p.k)),
      v(convert<ody::bf16>(p.v));
  DeviceBuffer<float> out(std::vector<float>(p.q_elems(), 0.f)),
      lse(std::vector<float>(p.lse_elems(), -INFINITY));
  DeviceBuffer<float> out_w(p.q_elems()), lse_w(p.lse_elems());
  DeviceBuffer<std::int64_t> pq(p.pos_q), pk(p.pos_k);
  AttentionOptions acc = p.options;
  acc.accumulate = true;
  AttentionShape s1 = s, s2 = s;
  s1.len_k = split;
  s2.len_k = s.len_k - split;
  ForwardLayout fl;
  fl.k = fl.v = Strides{s.len_k * HD, HD, s.head_dim};
  attention_forward_cuda<ody::bf16, float>(out.get(), lse.get(), q.get(), k.get(), v.get(),
                                           pq.get(), pk.get(), s1, acc, fl);
  attention_forward_cuda<ody::bf16, float>(out.get(), lse.get(), q.get(), k.get() + split * HD,
                                           v.get() + split * HD, pq.get(), pk.get() + split, s2,
                                           acc, fl);
  attention_forward_cuda<ody::bf16, float>(out_w.get(), lse_w.get(), q.get(), k.get(), v.get(),
                                           pq.get(), pk.get(), s, p.options);
  ODY_GPU_CHECK(cudaDeviceSynchronize());
  const auto o_blocks = to_f64(out.to_host()), o_whole = to_f64(out_w.to_host());
  const auto l_blocks = to_f64(lse.to_host()), l_whole = to_f64(lse_w.to_host());
  Parts parts;
  compare(parts, "blocks out", o_blocks, o_whole, 4 * (1.0 / 128) * max_abs_finite(o_whole),
          q_dims(s));
  compare(parts, "blocks lse", l_blocks, l_whole, 1e-4 * (1 + max_abs_finite(l_whole)),
          lse_dims(s));
  return parts;
}

// Long sequence, bf16 inputs, fp32 out: the whole problem on the GPU, the fp64 reference
// and plain fp32 on sampled query rows only, tolerances by the rule of standard_case
// (the gradient magnitude is that of the sampled dq: dk, dv are not computed in full).
Parts long_rows_case(std::int64_t len, std::int64_t head_dim, bool causal) {
  AttentionShape s;
  s.len_q = len;
  s.len_k = len;
  s.heads_q = 2;  // GQA group of 2: two query heads add into one kv head's dk, dv
  s.heads_k = 1;
  s.head_dim = head_dim;
  const Problem p = make_problem("long", s, causal, contiguous_positions(0, len),
                                 contiguous_positions(0, len), true, 31);
  const GpuResult got = run_gpu<ody::bf16, float>(p);

  // Rows at the tile edges (64), the middle and the end, and spread ones.
  std::vector<std::int64_t> rows = {0,       1,        63,       64,      65,     len / 2 - 1,
                                    len / 2, len - 65, len - 64, len - 2, len - 1};
  for (std::int64_t i = 1; i <= 21; ++i) rows.push_back((i * 7919 * 64 + i * 13) % len);
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  const auto nr = static_cast<std::int64_t>(rows.size());

  Problem sub = p;
  sub.shape.len_q = nr;
  sub.pos_q.clear();
  const std::int64_t row_elems = s.heads_q * head_dim;
  sub.q.assign(static_cast<size_t>(nr * row_elems), 0.f);
  sub.dout.assign(static_cast<size_t>(nr * row_elems), 0.f);
  std::vector<double> g_out(sub.q.size()), g_dq(sub.q.size()),
      g_lse(static_cast<size_t>(s.heads_q * nr));
  for (std::int64_t r = 0; r < nr; ++r) {
    const std::int64_t i = rows[static_cast<size_t>(r)];
    sub.pos_q.push_back(p.pos_q[static_cast<size_t>(i)]);
    for (std::int64_t e = 0; e < row_elems; ++e) {
      const auto from = static_cast<size_t>(i * row_elems + e),
                 to = static_cast<size_t>(r * row_elems + e);
      sub.q[to] = p.q[from];
      sub.dout[to] = p.dout[from];
      g_out[to] = got.out[from];
      g_dq[to] = got.dq[from];
    }
    for (std::int64_t h = 0; h < s.heads_q; ++h)
      g_lse[static_cast<size_t>(h * nr + r)] = got.lse[static_cast<size_t>(h * len + i)];
  }
  const Expected ref = reference64(sub, true), plain = plain32(sub, true);
  const double u = 1.0 / 128;
  Parts parts;
  compare(
      parts, "out", g_out, ref.out,
      derived_tolerance(ref.out, plain.out, len, head_dim, false) + 4 * u * max_abs_finite(ref.out),
      q_dims(sub.shape));
  compare(
      parts, "lse", g_lse, ref.lse,
      derived_tolerance(ref.lse, plain.lse, len, head_dim, false) + 4 * u * max_abs_finite(ref.lse),
      lse_dims(sub.shape));
  const double mag = max_abs_finite(ref.dq);
  compare(parts, "dq", g_dq, ref.dq,
          derived_tolerance(ref.dq, plain.dq, 2 * len, head_dim, false, mag) + 4 * u * mag,
          q_dims(sub.shape));
  // Every element finite (a NaN or inf anywhere, also in rows not sampled, fails).
  Part finite;
  finite.what = "finite";
  for (const auto* xs : {&got.out, &got.lse, &got.dq, &got.dk, &got.dv})
    for (double x : *xs)
      if (!std::isfinite(x)) {
        finite.ok = false;
        finite.worst = INFINITY;
        finite.message = "a NaN or inf in out, lse, dq, dk or dv";
      }
  finite.tol = 1;
  parts.push_back(finite);
  return parts;
}

struct Case {
  std::string name;
  std::function<Parts()> run;
};

std::vector<Case> all_cases(bool with_long) {
  std::vector<Case> cases;
  const std::vector<Problem> problems = standard_problems();
  for (const Problem& p : problems)
    cases.push_back({"AttentionCuda.Bf16MatchesFp64/" + p.name,
                     [p] { return standard_case<ody::bf16, float>(p); }});
  for (const Problem& p : problems)
    cases.push_back({"AttentionCuda.Bf16OutMatchesFp64/" + p.name,
                     [p] { return standard_case<ody::bf16, ody::bf16>(p); }});
  for (const Problem& p : problems)
    cases.push_back({"AttentionCuda.F16MatchesFp64/" + p.name,
                     [p] { return standard_case<ody::f16, float>(p); }});
  cases.push_back({"AttentionCudaBlocks.BlockwiseEqualsWhole", blockwise_case});
  if (with_long)
    for (std::int64_t dh : {64, 128})
      for (bool causal : {false, true}) {
        const std::int64_t len = 16384;
        cases.push_back({"LongRowsBf16/L" + std::to_string(len) + "_dh" + std::to_string(dh) +
                             (causal ? "_causal" : "_dense"),
                         [=] { return long_rows_case(len, dh, causal); }});
      }
  return cases;
}

std::string fmt(const char* f, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, x);
  return buf;
}

int run(int argc, char** argv) {
  std::string filter;
  bool with_long = true, list = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--filter" && i + 1 < argc) {
      filter = argv[++i];
    } else if (a == "--no-long") {
      with_long = false;
    } else if (a == "--list") {
      list = true;
    } else {
      std::fprintf(stderr,
                   "attention_cuda_check: unknown argument '%s'\n"
                   "usage: attention_cuda_check [--filter SUBSTRING] [--no-long] [--list]\n",
                   a.c_str());
      return 3;
    }
  }
  std::vector<Case> cases;
  for (auto& c : all_cases(with_long))
    if (filter.empty() || c.name.find(filter) != std::string::npos) cases.push_back(std::move(c));
  if (list) {
    for (const auto& c : cases) std::printf("%s\n", c.name.c_str());
    return 0;
  }
  const std::string problem = gpu::device_problem();
  if (!problem.empty()) {
    std::printf("%s\n", problem.c_str());
    return 2;
  }
  std::printf("device: %s\n", gpu::device_description().c_str());
  std::fflush(stdout);
  int passed = 0, failed = 0;
  for (const auto& c : cases) {
    // The name goes out first: if a kernel hangs, the log's last line names the case.
    std::printf("%s: ", c.name.c_str());
    std::fflush(stdout);
    const auto t0 = std::chrono::steady_clock::now();
    std::string line;
    bool ok = true;
    try {
      const Parts parts = c.run();
      std::string detail, failures;
      for (const auto& p : parts) {
        detail += " " + p.what + " " + fmt("%.3g", p.tol > 0 ? p.worst / p.tol : p.worst);
        if (!p.ok) {
          ok = false;
          failures += (failures.empty() ? "" : "; ") + p.message;
        }
      }
      line = "(worst/tol:" + detail + ")";
      if (!ok) line += ": " + failures;
    } catch (const std::exception& e) {
      ok = false;
      line = std::string("exception: ") + e.what();
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s %s %s\n", ok ? "PASS" : "FAIL", line.c_str(), fmt("[%.0f ms]", ms).c_str());
    std::fflush(stdout);
    (ok ? passed : failed)++;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace ody::kernels::test

int main(int argc, char** argv) {
  try {
    return ody::kernels::test::run(argc, argv);
  } catch (const std::exception& e) {
    std::printf("attention_cuda_check: %s\n", e.what());
    return 1;
  }
}
