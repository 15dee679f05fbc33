#include "experiments/commbench/sweep.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "backends/mpi/check.hpp"

namespace ody::experiments::commbench {

namespace {
std::string human(std::int64_t bytes) {
  char s[32];
  if (bytes >= (1 << 20) && bytes % (1 << 20) == 0)
    std::snprintf(s, sizeof s, "%lldM", static_cast<long long>(bytes >> 20));
  else if (bytes >= 1024 && bytes % 1024 == 0)
    std::snprintf(s, sizeof s, "%lldK", static_cast<long long>(bytes >> 10));
  else
    std::snprintf(s, sizeof s, "%lld", static_cast<long long>(bytes));
  return s;
}

}  // namespace

double measure_memcpy(std::int64_t bytes, int iters, Session& s) {
  std::vector<char> a(static_cast<std::size_t>(bytes), 1), b(static_cast<std::size_t>(bytes));
  std::memcpy(b.data(), a.data(), a.size());  // faults the pages in
  std::vector<double> t(iters);
  for (int i = 0; i < iters; ++i)
    t[i] = timed(s.raw(), [&] { std::memcpy(b.data(), a.data(), a.size()); });
  return static_cast<double>(bytes) / s.slowest_median(t) / 1e9;
}

double timed(MPI_Comm raw, const std::function<void()>& fn) {
  ODY_MPI_CHECK(MPI_Barrier(raw));
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return seconds_since(t0);
}

std::int64_t run_sweep(Collective& coll, const Sweep& sw, Session& s) {
  const int rank = s.rank(), p = s.size(), iters = s.flags().iters, warmup = s.flags().warmup;
  comm::Communicator& world = *sw.comm;
  auto* hier = sw.hier;
  const MPI_Comm raw = s.raw();
  const std::size_t es = comm::dtype_size(sw.dtype);
  std::int64_t total_wrong = 0;
  if (rank == 0) {
    std::printf("\n# %s\n%12s %12s %6s %9s %12s %10s %10s %8s %12s %12s %8s %8s\n",
                coll.name().c_str(), "size(B)", "count", "type", "algo", "time(us)", "algbw",
                "busbw", "#wrong", "raw time(us)", "raw busbw", "ratio", "/memcpy");
    if (hier)
      std::printf("# hier: the same through %d pretend nodes: %12s %12s %8s %8s\n", hier->nodes(),
                  "time(us)", "busbw", "#wrong", "vs flat");
  }
  for (double sz = static_cast<double>(sw.min_bytes);
       sz <= static_cast<double>(sw.max_bytes) * (1 + 1e-9); sz *= sw.factor) {
    const auto bytes_req = static_cast<std::int64_t>(sz);
    const std::int64_t count = coll.full_count(bytes_req, es, p);
    if (count < 1) continue;
    const std::int64_t bytes = count * static_cast<std::int64_t>(es);
    coll.prepare(count, sw.dtype, sw.op, rank, p);
    for (int i = 0; i < warmup; ++i) {
      coll.run_ours(world);
      coll.run_raw(raw);
    }
    for (int i = 0; hier && i < warmup; ++i) coll.run_ours(*hier);
    std::vector<double> t_ours(iters), t_raw(iters), t_hier(hier ? iters : 0);
    for (int i = 0; i < iters; ++i) {
      t_ours[i] = timed(raw, [&] { coll.run_ours(world); });
      t_raw[i] = timed(raw, [&] { coll.run_raw(raw); });
      if (hier) t_hier[i] = timed(raw, [&] { coll.run_ours(*hier); });
    }
    const double t = s.slowest_median(t_ours), tr = s.slowest_median(t_raw);
    std::int64_t wrong = 0, hier_wrong = 0;
    if (sw.check && hier) {
      hier_wrong = coll.check(*hier);
      ODY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &hier_wrong, 1, MPI_INT64_T, MPI_SUM, raw));
      total_wrong += hier_wrong;
    }
    if (sw.check) {
      wrong = coll.check(world);
      ODY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &wrong, 1, MPI_INT64_T, MPI_SUM, raw));
      total_wrong += wrong;
    }
    const double algbw = bytes / t / 1e9, busbw = algbw * coll.bus_factor(p);
    const double raw_busbw = bytes / tr / 1e9 * coll.bus_factor(p);
    const double ratio = tr / t;  // = busbw / raw_busbw, also defined when p == 1
    const std::string algo = world.algorithm(coll.kind(), bytes);
    if (rank == 0) {
      std::printf("%12lld %12lld %6s %9s %12.2f %10.3f %10.3f %8lld %12.2f %12.3f %8.3f %8.3f\n",
                  static_cast<long long>(bytes), static_cast<long long>(count),
                  sw.dtype_name.c_str(), algo.c_str(), t * 1e6, algbw, busbw,
                  static_cast<long long>(wrong), tr * 1e6, raw_busbw, ratio,
                  busbw / sw.memcpy_GBps);
      std::fflush(stdout);
    }
    if (hier) {
      const double th = s.slowest_median(t_hier),
                   hier_busbw = bytes / th / 1e9 * coll.bus_factor(p);
      if (rank == 0)
        std::printf("%12s hier %12.2f %12.3f %8lld %8.3f\n", "", th * 1e6, hier_busbw,
                    static_cast<long long>(hier_wrong), t / th);
      s.json().write({{"type", "result_hier"},
                      {"op", coll.name()},
                      {"bytes", bytes},
                      {"nodes", hier->nodes()},
                      {"time_us", th * 1e6},
                      {"busbw", hier_busbw},
                      {"flat_time_us", t * 1e6},
                      {"ratio_to_flat", t / th},
                      {"wrong", sw.check ? nlohmann::json(hier_wrong) : nlohmann::json(nullptr)}});
    }
    s.json().write({{"type", "result"},
                    {"op", coll.name()},
                    {"bytes", bytes},
                    {"size", human(bytes)},
                    {"count", count},
                    {"dtype", sw.dtype_name},
                    {"algo", algo},
                    {"time_us", t * 1e6},
                    {"algbw", algbw},
                    {"busbw", busbw},
                    {"baseline_time_us", tr * 1e6},
                    {"baseline_busbw", raw_busbw},
                    {"ratio", ratio},
                    {"memcpy_ratio", busbw / sw.memcpy_GBps},
                    {"wrong", sw.check ? nlohmann::json(wrong) : nlohmann::json(nullptr)}});
  }
  return total_wrong;
}

}  // namespace ody::experiments::commbench
