// ody-kernelbench harness: see harness.hpp. Output: a human-readable table on stdout and,
// with --json FILE, one JSON object per line (first a header record, then one per case).
#include "kernelbench/harness.hpp"

#include <cblas.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <vector>

#include "base/error.hpp"
#include "experiments/common/tool.hpp"
#include "layers/blas_kernel.hpp"

#ifndef ODY_GIT_COMMIT
#define ODY_GIT_COMMIT "unknown"
#endif
#ifndef ODY_BUILD_TYPE
#define ODY_BUILD_TYPE "unknown"
#endif

namespace ody::kernelbench {
namespace {

std::map<std::string, GroupFn>& registry() {
  static std::map<std::string, GroupFn> r;  // function-local: safe during static init
  return r;
}

double median_seconds(const std::function<void()>& fn, int iters, int warmup) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> t;
  for (int i = 0; i < std::max(iters, 1); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  const size_t n = t.size();
  return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

// OpenBLAS sgemm C[m,n] = A[m,k] B[n,k]^T (the Linear layer's forward form) on one thread.
double sgemm_gflops(int m, int n, int k, int iters) {
  std::vector<float> a(static_cast<size_t>(m) * k, 0.5f), b(static_cast<size_t>(n) * k, 0.25f),
      c(static_cast<size_t>(m) * n);
  const double s = median_seconds(
      [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.f, a.data(), k, b.data(), k,
                    0.f, c.data(), n);
      },
      iters, 1);
  return 2.0 * m * n * k / s / 1e9;
}

// The ceiling the kernels are judged against: the best sgemm rate of n^3 and of the block's
// own GEMM shapes (T tokens through the projections and the MLP of the layers cases), so
// that no case beats its ceiling merely by having a friendlier shape than a square.
struct SgemmCeiling {
  double gflops = 0;
  std::string best_shape;
  nlohmann::json shapes = nlohmann::json::array();
};
SgemmCeiling sgemm_ceiling(bool quick) {
  const int n = quick ? 512 : 2048, T = quick ? 256 : 4096, d = quick ? 128 : 1024,
            i = quick ? 352 : 2816;
  const int shapes[][3] = {{n, n, n}, {T, d, d}, {T, i, d}, {T, d, i}};  // m, n, k
  SgemmCeiling c;
  for (const auto& s : shapes) {
    const double gf = sgemm_gflops(s[0], s[1], s[2], quick ? 3 : 5);
    const std::string name =
        std::to_string(s[0]) + "x" + std::to_string(s[1]) + "x" + std::to_string(s[2]);
    c.shapes.push_back({{"mnk", name}, {"gflops", gf}});
    if (gf > c.gflops) c.gflops = gf, c.best_shape = name;
  }
  return c;
}

std::string host_name() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

int run(int argc, char** argv) {
  Config cfg;
  std::string json_path, filter;
  bool list = false;
  CLI::App app{"ody-kernelbench: CPU kernel throughput and memory (one core)"};
  app.add_option("--json", json_path, "write JSON lines to FILE");
  app.add_flag("--quick", cfg.quick, "small sizes (smoke test)");
  app.add_option("-n,--iters", cfg.iters, "timed runs per case (median reported)")
      ->check(CLI::PositiveNumber);
  app.add_option("-w,--warmup", cfg.warmup, "untimed warm-up runs per case")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--filter", filter, "run only cases whose name contains SUBSTR");
  app.add_flag("--list", list, "list the cases and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  std::vector<Case> cases;
  for (const auto& [group, fn] : registry())
    for (auto& c : fn(cfg))
      if (filter.empty() || c.name.find(filter) != std::string::npos) cases.push_back(std::move(c));
  if (list) {
    for (const auto& c : cases) std::cout << c.name << "\n";
    return 0;
  }

  openblas_set_num_threads(1);  // one core against one core (also set OPENBLAS_NUM_THREADS=1)
  std::ofstream json;
  if (!json_path.empty()) {
    json.open(json_path);
    if (!json) throw Error("--json", "a writable file", json_path);
  }
  const SgemmCeiling ceiling = sgemm_ceiling(cfg.quick);
  const double sgemm = ceiling.gflops;
  const layers::BlasInfo blas = layers::blas_info();
  nlohmann::json header = {{"kind", "header"},
                           {"tool", "ody-kernelbench"},
                           {"commit", ODY_GIT_COMMIT},
                           {"build", ODY_BUILD_TYPE},
                           {"host", host_name()},
                           {"blas_threads", 1},
                           {"blas", experiments::blas_json(blas)},
                           {"sgemm_shapes", ceiling.shapes},
                           {"sgemm_best_shape", ceiling.best_shape},
                           {"sgemm_gflops", sgemm},
                           {"iters", cfg.iters},
                           {"warmup", cfg.warmup},
                           {"quick", cfg.quick},
                           {"timing", "median of iters runs after warmup runs"}};
  std::printf("# ody-kernelbench commit %s (%s) host %s, one BLAS thread\n", ODY_GIT_COMMIT,
              ODY_BUILD_TYPE, host_name().c_str());
  std::printf("# blas: %s\n", blas.description().c_str());
  std::printf("# sgemm ceiling %.1f GFLOP/s (best of", sgemm);
  for (const auto& s : ceiling.shapes)
    std::printf(" %s %.1f", s["mnk"].get<std::string>().c_str(), s["gflops"].get<double>());
  std::printf(", m x n x k, median of runs); ratio = gflops / ceiling\n");
  std::vector<std::string> conventions;  // each group documents how it counts FLOPs
  for (const auto& c : cases)
    if (c.fields.contains("flop_convention")) {
      const std::string fc = c.fields["flop_convention"].get<std::string>();
      if (std::find(conventions.begin(), conventions.end(), fc) == conventions.end())
        conventions.push_back(fc);
    }
  for (const auto& fc : conventions) std::printf("# FLOPs: %s\n", fc.c_str());
  header["flop_conventions"] = conventions;
  if (json) json << header.dump() << "\n" << std::flush;

  // Untimed cases first (see harness.hpp), then the timed ones.
  std::vector<const Case*> order;
  for (const auto& c : cases)
    if (c.measure) order.push_back(&c);
  for (const auto& c : cases)
    if (!c.measure) order.push_back(&c);
  bool printed_head = false;
  for (const Case* cp : order) {
    const Case& c = *cp;
    nlohmann::json rec = c.fields;
    rec["kind"] = "case";
    rec["name"] = c.name;
    if (c.measure) {
      const nlohmann::json measured = c.measure();  // keep alive: items() refers to it
      for (const auto& [k, v] : measured.items()) rec[k] = v;
      std::printf("%-40s %s\n", c.name.c_str(), rec.dump().c_str());
    } else {
      const std::function<void()> work = c.prepare();
      const double s = median_seconds(work, cfg.iters, cfg.warmup);
      const double gf = c.flops / s / 1e9;
      rec["median_s"] = s;
      rec["flops"] = c.flops;
      rec["gflops"] = gf;
      rec["sgemm_gflops"] = sgemm;
      rec["ratio"] = gf / sgemm;
      if (!printed_head) {
        std::printf("%-40s %10s %9s %7s\n", "case", "median_s", "GFLOP/s", "ratio");
        printed_head = true;
      }
      std::printf("%-40s %10.4f %9.1f %7.3f\n", c.name.c_str(), s, gf, gf / sgemm);
    }
    std::fflush(stdout);
    if (json) json << rec.dump() << "\n" << std::flush;
  }
  return 0;
}

}  // namespace

bool register_group(const std::string& group, GroupFn fn) {
  registry()[group] = fn;
  return true;
}

}  // namespace ody::kernelbench

int main(int argc, char** argv) {
  ody::layers::use_best_blas_kernel(argv);
  try {
    return ody::kernelbench::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ody-kernelbench: %s\n", e.what());
    return 1;
  }
}
