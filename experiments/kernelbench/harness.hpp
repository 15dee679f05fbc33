#pragma once
// ody-kernelbench: one harness (command line, warm-up, timing, reporting) plus one file
// per group of cases that only says what it runs and what it costs (nccl-tests style).
//
// Adding a group (e.g. layers' `linear` or `block` cases) is one file here, listed in
// experiments/kernelbench/CMakeLists.txt, containing:
//
//   #include "kernelbench/harness.hpp"
//   namespace {
//   std::vector<ody::kernelbench::Case> linear_cases(const ody::kernelbench::Config& cfg) {
//     std::vector<ody::kernelbench::Case> v;
//     ody::kernelbench::Case c;
//     c.name = "linear/fwd/M=4096";                   // unique; --filter matches substrings
//     c.fields = {{"kernel", "linear"}, {"direction", "fwd"}, {"M", 4096}};
//     c.flops = 2.0 * M * N * K;                       // per run; 0 = not a throughput case
//     c.prepare = [=] {                                // allocate (not timed), return the work
//       auto buf = std::make_shared<Buffers>(...);
//       return [buf] { run_linear(*buf); };            // timed: median of -n runs after -w
//     };
//     v.push_back(std::move(c));
//     return v;
//   }
//   const bool kRegistered = ody::kernelbench::register_group("linear", &linear_cases);
//   }  // namespace
//
// A case with `measure` set instead of `prepare` is not timed by the harness: measure()
// returns its own JSON fields (e.g. peak memory); such cases run before the timed ones so
// that their peak-RSS reading is not hidden by an earlier, bigger case.
//
// Every timed record carries gflops, sgemm_gflops (OpenBLAS sgemm measured in the same
// run, one thread) and ratio = gflops / sgemm_gflops. Run with OPENBLAS_NUM_THREADS=1;
// the harness also calls openblas_set_num_threads(1), so it is one core against one core.
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ody::kernelbench {

struct Config {
  bool quick = false;  // --quick: small sizes, for the smoke test
  int iters = 3;       // -n
  int warmup = 1;      // -w
};

struct Case {
  std::string name;
  nlohmann::json fields;  // copied into the JSON record (kernel, direction, sizes, ...)
  double flops = 0;       // FLOPs of one run by the group's documented convention
  std::function<std::function<void()>()> prepare;  // timed cases
  std::function<nlohmann::json()> measure;         // untimed cases (memory, ...)
};

using GroupFn = std::vector<Case> (*)(const Config&);
// Registers a group of cases; call from a namespace-scope initialiser. Returns true.
bool register_group(const std::string& group, GroupFn fn);

}  // namespace ody::kernelbench
