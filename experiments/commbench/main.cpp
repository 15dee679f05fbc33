// ody-commbench: nccl-tests-style bandwidth and latency of every collective through an
// ody::comm backend, next to the same operation through raw MPI calls in the same run.
//
//   mpirun -np N build/bin/ody-commbench --op all -b 8 -e 64M -f 2 -n 20 -w 5 -c 1 \
//       --dtype f32 --backend mpi --json out.jsonl
//
// Time per size: each iteration is timed on every rank between barriers; the iteration's
// time is the slowest rank's; the reported time is the median over iterations. Ours and
// the baseline alternate iteration by iteration so that both see the same machine noise.
#include <mpi.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <set>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "backends/mpi/check.hpp"
#include "backends/registry.hpp"
#include "base/error.hpp"
#include "comm/hierarchical.hpp"
#include "experiments/commbench/collectives.hpp"
#include "experiments/common/tool.hpp"
#include "layers/blas_kernel.hpp"

namespace ody::experiments::commbench {
namespace {

struct Options {
  std::string op = "all";
  std::string min_bytes = "8", max_bytes = "64M";
  double factor = 2;
  int iters = 20, warmup = 5, check = 1, hier = 0;
  std::string dtype = "f32", reduce_op = "sum", backend = "mpi", json;
};

std::string human(std::int64_t bytes) {
  char s[32];
  if (bytes >= (1 << 20) && bytes % (1 << 20) == 0) std::snprintf(s, sizeof s, "%lldM", static_cast<long long>(bytes >> 20));
  else if (bytes >= 1024 && bytes % 1024 == 0) std::snprintf(s, sizeof s, "%lldK", static_cast<long long>(bytes >> 10));
  else std::snprintf(s, sizeof s, "%lld", static_cast<long long>(bytes));
  return s;
}

int run(int argc, char** argv) {
  Options o;
  CLI::App app{"ody-commbench: collective bandwidth through an ody backend vs raw MPI"};
  app.add_option("--op", o.op, "allreduce, allgather, reducescatter, alltoall, sendrecv or all");
  app.add_option("-b,--minbytes", o.min_bytes, "smallest size (K/M/G suffixes)");
  app.add_option("-e,--maxbytes", o.max_bytes, "largest size (K/M/G suffixes)");
  app.add_option("-f,--stepfactor", o.factor, "multiplication factor between sizes");
  app.add_option("-n,--iters", o.iters, "timed iterations per size");
  app.add_option("-w,--warmup", o.warmup, "warm-up iterations per size");
  app.add_option("-c,--check", o.check, "check results (1) or not (0)");
  app.add_option("--dtype", o.dtype, "f32, f64, bf16, f16, i32, i64, u8");
  app.add_option("--reduce-op", o.reduce_op, "sum, max, min, avg");
  app.add_option("--backend", o.backend, "communication backend");
  app.add_option("--json", o.json, "write JSON lines to this file (rank 0)");
  app.add_option("--hier", o.hier, "also run through a hierarchical communicator over K pretend "
                 "nodes of contiguous ranks (comm/hierarchical.hpp); 0: off");
  parse_command_line(app, argc, argv);

  // ---- validation: identical on every rank, before any communication ----------------
  const std::int64_t min_b = parse_size(o.min_bytes, "-b"), max_b = parse_size(o.max_bytes, "-e");
  if (min_b < 1) throw UsageError("-b: expected at least 1 byte, found " + o.min_bytes);
  if (max_b < min_b) throw UsageError("-e: expected a size >= -b (" + o.min_bytes + "), found " + o.max_bytes);
  if (!(o.factor > 1)) throw UsageError("-f: expected a factor > 1, found " + std::to_string(o.factor));
  if (o.iters < 1) throw UsageError("-n: expected at least 1 iteration, found " + std::to_string(o.iters));
  if (o.warmup < 0) throw UsageError("-w: expected >= 0, found " + std::to_string(o.warmup));
  comm::DType dtype;
  comm::ReduceOp rop;
  std::vector<std::unique_ptr<Collective>> ops;
  try {
    dtype = comm::parse_dtype(o.dtype, "--dtype");
    rop = comm::parse_reduce_op(o.reduce_op, "--reduce-op");
    if (!comm::reduction_allowed(dtype, rop))
      throw UsageError("--reduce-op: avg needs a floating --dtype, found " + o.dtype);
    if (o.op == "all")
      for (const auto& n : collective_names()) ops.push_back(make_collective(n));
    else
      ops.push_back(make_collective(o.op));
  } catch (const ody::Error& e) {
    throw UsageError(e.what());
  }
  std::unique_ptr<comm::Communicator> world;
  try {
    world = backends::create_world(o.backend);
  } catch (const ody::Error& e) {
    throw UsageError(e.what());
  }

  const int rank = world->rank(), p = world->size();
  if (o.hier < 0 || (o.hier > 0 && p % o.hier != 0))
    throw UsageError("--hier: expected 0 or a number of nodes dividing the world size " + std::to_string(p) +
                     ", found " + std::to_string(o.hier));
  std::unique_ptr<comm::Communicator> hier;  // the same backend, two levels over pretend nodes
  if (o.hier > 0) {
    std::vector<int> nodes(static_cast<std::size_t>(p));
    for (int r = 0; r < p; ++r) nodes[r] = r / (p / o.hier);
    hier = comm::make_hierarchical(*world, nodes);
  }
  MPI_Comm raw;
  ODY_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &raw));
  const RunInfo info = gather_run_info(*world);
  JsonLines json(o.json, rank == 0);
  auto header = header_json(info);
  header["tool"] = "ody-commbench";
  header["backend"] = o.backend;
  header["dtype"] = o.dtype;
  header["reduce_op"] = o.reduce_op;
  header["iters"] = o.iters;
  header["warmup"] = o.warmup;
  header["hier_nodes"] = o.hier;
  header["timing"] = "median over iterations of the slowest rank; baseline = raw MPI, same run";
  json.write(header);

  if (rank == 0) {
    std::printf("# ody-commbench: backend %s, %d ranks on %zu host(s), dtype %s, op %s, commit %s\n",
                o.backend.c_str(), p, std::set<std::string>(info.hosts.begin(), info.hosts.end()).size(),
                o.dtype.c_str(), o.reduce_op.c_str(), info.commit.c_str());
    std::printf("# blas: %s\n", layers::blas_info().description().c_str());
    std::printf("# busbw = algbw x factor (allreduce 2(p-1)/p; allgather, reducescatter, alltoall (p-1)/p; sendrecv 1)\n");
  }
  const std::size_t es = comm::dtype_size(dtype);
  std::int64_t total_wrong = 0;
  for (auto& coll : ops) {
    if (rank == 0) {
      std::printf("\n# %s\n%12s %12s %6s %12s %10s %10s %8s %12s %12s %8s\n", coll->name().c_str(), "size(B)",
                  "count", "type", "time(us)", "algbw", "busbw", "#wrong", "raw time(us)", "raw busbw", "ratio");
      if (hier) std::printf("# hier: the same through %d pretend nodes: %12s %12s %8s %8s\n", o.hier, "time(us)",
                            "busbw", "#wrong", "vs flat");
    }
    for (double sz = static_cast<double>(min_b); sz <= static_cast<double>(max_b) * (1 + 1e-9); sz *= o.factor) {
      const auto bytes_req = static_cast<std::int64_t>(sz);
      const std::int64_t count = coll->full_count(bytes_req, es, p);
      if (count < 1) continue;
      const std::int64_t bytes = count * static_cast<std::int64_t>(es);
      coll->prepare(count, dtype, rop, rank, p);
      for (int i = 0; i < o.warmup; ++i) {
        coll->run_ours(*world);
        coll->run_raw(raw);
      }
      for (int i = 0; hier && i < o.warmup; ++i) coll->run_ours(*hier);
      std::vector<double> t_ours(o.iters), t_raw(o.iters), t_hier(hier ? o.iters : 0);
      for (int i = 0; i < o.iters; ++i) {
        ODY_MPI_CHECK(MPI_Barrier(raw));
        auto t0 = std::chrono::steady_clock::now();
        coll->run_ours(*world);
        t_ours[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        ODY_MPI_CHECK(MPI_Barrier(raw));
        t0 = std::chrono::steady_clock::now();
        coll->run_raw(raw);
        t_raw[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (!hier) continue;
        ODY_MPI_CHECK(MPI_Barrier(raw));
        t0 = std::chrono::steady_clock::now();
        coll->run_ours(*hier);
        t_hier[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      }
      const double t = slowest_median(t_ours, raw), tr = slowest_median(t_raw, raw);
      std::int64_t wrong = 0, hier_wrong = 0;
      if (o.check && hier) {
        hier_wrong = coll->check(*hier);
        ODY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &hier_wrong, 1, MPI_INT64_T, MPI_SUM, raw));
        total_wrong += hier_wrong;
      }
      if (o.check) {
        wrong = coll->check(*world);
        ODY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &wrong, 1, MPI_INT64_T, MPI_SUM, raw));
        total_wrong += wrong;
      }
      const double algbw = bytes / t / 1e9, busbw = algbw * coll->bus_factor(p);
      const double raw_busbw = bytes / tr / 1e9 * coll->bus_factor(p);
      const double ratio = tr / t;  // = busbw / raw_busbw, also defined when p == 1
      if (rank == 0) {
        std::printf("%12lld %12lld %6s %12.2f %10.3f %10.3f %8lld %12.2f %12.3f %8.3f\n",
                    static_cast<long long>(bytes), static_cast<long long>(count), o.dtype.c_str(), t * 1e6,
                    algbw, busbw, static_cast<long long>(wrong), tr * 1e6, raw_busbw, ratio);
        std::fflush(stdout);
      }
      if (hier) {
        const double th = slowest_median(t_hier, raw), hier_busbw = bytes / th / 1e9 * coll->bus_factor(p);
        if (rank == 0)
          std::printf("%12s hier %12.2f %12.3f %8lld %8.3f\n", "", th * 1e6, hier_busbw,
                      static_cast<long long>(hier_wrong), t / th);
        json.write({{"type", "result_hier"}, {"op", coll->name()}, {"bytes", bytes}, {"nodes", o.hier},
                    {"time_us", th * 1e6}, {"busbw", hier_busbw}, {"flat_time_us", t * 1e6},
                    {"ratio_to_flat", t / th},
                    {"wrong", o.check ? nlohmann::json(hier_wrong) : nlohmann::json(nullptr)}});
      }
      json.write({{"type", "result"}, {"op", coll->name()}, {"bytes", bytes}, {"size", human(bytes)},
                  {"count", count}, {"dtype", o.dtype}, {"time_us", t * 1e6}, {"algbw", algbw},
                  {"busbw", busbw}, {"baseline_time_us", tr * 1e6}, {"baseline_busbw", raw_busbw},
                  {"ratio", ratio}, {"wrong", o.check ? nlohmann::json(wrong) : nlohmann::json(nullptr)}});
    }
  }
  ODY_MPI_CHECK(MPI_Comm_free(&raw));
  if (rank == 0 && o.check)
    std::printf("\n# %s: %lld wrong values\n", total_wrong ? "FAILED" : "OK", static_cast<long long>(total_wrong));
  return total_wrong == 0 ? 0 : 1;
}

}  // namespace
}  // namespace ody::experiments::commbench

int main(int argc, char** argv) {
  return ody::experiments::tool_main("ody-commbench", argc, argv, ody::experiments::commbench::run);
}
