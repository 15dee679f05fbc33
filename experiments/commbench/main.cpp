// ody-commbench: nccl-tests-style bandwidth and latency of every collective through an
// ody::comm backend, next to the same operation through raw MPI calls in the same run.
//
//   mpirun -np N build/bin/ody-commbench --op all -b 8 -e 64M -f 2 -n 20 -w 5 -c 1 \
//       --dtype f32 --backend mpi --json out.jsonl
//
// Time per size: each iteration is timed on every rank between barriers; the iteration's
// time is the slowest rank's; the reported time is the median over iterations. Ours and
// the baseline alternate iteration by iteration so that both see the same machine noise.
#include <cstdio>
#include <string>
#include <vector>

#include "backends/hierarchical/communicator.hpp"
#include "base/error.hpp"
#include "experiments/commbench/collectives.hpp"
#include "experiments/commbench/sweep.hpp"
#include "experiments/commbench/tune.hpp"
#include "experiments/common/harness.hpp"
#include "layers/blas_kernel.hpp"

namespace ody::experiments::commbench {
namespace {

struct Options {
  std::string op = "all";
  std::string min_bytes = "8", max_bytes = "64M";
  double factor = 2;
  int check = 1, hier = 0;
  std::string dtype = "f32", reduce_op = "sum", algo, tune;
  RunFlags run{20, 5, "", "auto"};
};

int run(int argc, char** argv) {
  Options o;
  CLI::App app{"ody-commbench: collective bandwidth through an ody backend vs raw MPI"};
  app.add_option("--op", o.op, "allreduce, allgather, reducescatter, alltoall, sendrecv or all");
  app.add_option("-b,--minbytes", o.min_bytes, "smallest size (K/M/G suffixes)");
  app.add_option("-e,--maxbytes", o.max_bytes, "largest size (K/M/G suffixes)");
  app.add_option("-f,--stepfactor", o.factor, "multiplication factor between sizes");
  add_run_flags(app, o.run);
  app.add_option("-c,--check", o.check, "check results (1) or not (0)");
  app.add_option("--dtype", o.dtype, "f32, f64, bf16, f16, i32, i64, u8");
  app.add_option("--reduce-op", o.reduce_op, "sum, max, min, avg");
  app.add_option("--algo", o.algo,
                 "force the measured communicator's algorithm (native, ring, pairwise, binomial; "
                 "each collective takes it where it has it)");
  app.add_option("--tune", o.tune,
                 "measure every algorithm per collective and size, write the fastest as a table "
                 "to FILE (read back with ODY_TUNE_FILE=FILE), then sweep with it");
  app.add_option("--hier", o.hier,
                 "also run through a hierarchical communicator over K pretend "
                 "nodes of contiguous ranks (backends/hierarchical/communicator.hpp); 0: off");
  parse_command_line(app, argc, argv);

  // ---- validation: identical on every rank, before any communication ----------------
  Sweep sw{parse_size(o.min_bytes, "-b"),
           parse_size(o.max_bytes, "-e"),
           o.factor,
           {},
           o.dtype,
           {},
           o.check != 0,
           nullptr,
           nullptr};
  if (sw.min_bytes < 1) throw UsageError("-b: expected at least 1 byte, found " + o.min_bytes);
  if (sw.max_bytes < sw.min_bytes)
    throw UsageError("-e: expected a size >= -b (" + o.min_bytes + "), found " + o.max_bytes);
  if (!(o.factor > 1))
    throw UsageError("-f: expected a factor > 1, found " + std::to_string(o.factor));
  check_run_flags(o.run);
  std::vector<std::unique_ptr<Collective>> ops;
  try {
    sw.dtype = comm::parse_dtype(o.dtype, "--dtype");
    sw.op = comm::parse_reduce_op(o.reduce_op, "--reduce-op");
    if (!comm::reduction_allowed(sw.dtype, sw.op))
      throw UsageError("--reduce-op: avg needs a floating --dtype, found " + o.dtype);
    for (const auto& n : o.op == "all" ? collective_names() : std::vector<std::string>{o.op})
      ops.push_back(make_collective(n));
  } catch (const ody::Error& e) {
    throw UsageError(e.what());
  }
  if (!o.tune.empty() && !o.algo.empty())
    throw UsageError("--tune: measures every algorithm; expected no --algo, found '" + o.algo +
                     "'");
  Session s("ody-commbench", o.run);
  const int p = s.size();
  std::string why;
  sw.comm = &s.all_ranks(why);
  const std::string backend = sw.comm->info().name;
  if (!o.algo.empty()) {
    try {
      sw.comm->force_algorithms({o.algo});
    } catch (const ody::Error& e) {
      throw UsageError(std::string("--algo: ") + e.what());
    }
  }
  if (o.hier < 0 || (o.hier > 0 && p % o.hier != 0))
    throw UsageError("--hier: expected 0 or a number of nodes dividing the world size " +
                     std::to_string(p) + ", found " + std::to_string(o.hier));
  std::unique_ptr<backends::hierarchical::HierarchicalCommunicator>
      hier;  // the same backend, two levels over pretend nodes
  if (o.hier > 0) {
    std::vector<int> nodes(static_cast<std::size_t>(p));
    for (int r = 0; r < p; ++r) nodes[r] = r / (p / o.hier);
    hier = backends::hierarchical::make_hierarchical(*sw.comm, nodes);
    sw.hier = hier.get();
  }
  auto header = s.header();
  header["backend"] = backend;
  header["backend_choice"] = why;
  header["dtype"] = o.dtype;
  header["reduce_op"] = o.reduce_op;
  header["hier_nodes"] = o.hier;
  sw.memcpy_GBps = measure_memcpy(std::int64_t{64} << 20, 5, s);
  header["memcpy_GBps"] = sw.memcpy_GBps;
  header["timing"] = "median over iterations of the slowest rank; baseline = raw MPI, same run";
  s.json().write(header);
  if (s.rank() == 0) {
    std::printf(
        "# ody-commbench: backend %s (%s), %d ranks on %zu host(s), dtype %s, op %s, commit %s\n",
        backend.c_str(), why.c_str(), p, s.host_count(), o.dtype.c_str(), o.reduce_op.c_str(),
        s.info().commit.c_str());
    std::printf("# blas: %s\n", layers::blas_info().description().c_str());
    std::printf(
        "# ceiling: one core's memcpy %.2f GB/s (64 MiB, every rank at once); /memcpy = "
        "busbw over it\n",
        sw.memcpy_GBps);
    std::printf(
        "# busbw = algbw x factor (allreduce 2(p-1)/p; allgather, reducescatter, alltoall (p-1)/p; "
        "sendrecv 1)\n");
  }
  if (!o.tune.empty()) run_tune(ops, sw, s, o.tune);
  std::int64_t total_wrong = 0;
  for (auto& coll : ops) total_wrong += run_sweep(*coll, sw, s);
  if (s.rank() == 0 && o.check)
    std::printf("\n# %s: %lld wrong values\n", total_wrong ? "FAILED" : "OK",
                static_cast<long long>(total_wrong));
  return total_wrong == 0 ? 0 : 1;
}

}  // namespace
}  // namespace ody::experiments::commbench

int main(int argc, char** argv) {
  return ody::experiments::tool_main("ody-commbench", argc, argv, ody::experiments::commbench::run);
}
