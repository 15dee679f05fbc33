// ody-bench: runs sequence-parallel strategies of one decoder block, forward and
// backward, and compares them: time, communication not hidden behind compute, tokens/s,
// achieved GFLOP/s, bytes sent per rank by operation kind (measured and the strategy's
// own cost formula), peak memory per rank, and with --check the worst relative error
// against the single-rank block on rank 0.
//
//   mpirun -np 4 build/bin/ody-bench --strategy usp --mesh ulysses=2,ring=2 --seq-len 8K \
//       --hidden 1024 --heads 8 --kv-heads 8 --ffn 2816 --causal -n 3 -w 1 --check \
//       --json out.jsonl --trace trace.json
//
// Timing: forward and backward are timed separately between barriers; an iteration's
// time is the slowest rank's; the median is over iterations. The single-rank baseline is
// the same block on rank 0 alone (with --check or --baseline), timed the same way.
// Exposed communication: the time a rank spent blocked waiting for communication during
// forward + backward (comm/trace.hpp), slowest rank per iteration, median.
// Peak memory: metrics.hpp (what running the strategy added to the resident set), next to
// the expected peak (expected_peak_bytes: the strategy's cost().peak_bytes plus the four
// [B, L/N, d] buffers this tool gives it).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "comm/trace.hpp"
#include "experiments/bench/measure.hpp"
#include "experiments/bench/nodes.hpp"
#include "experiments/bench/options.hpp"
#include "experiments/bench/reference.hpp"
#include "experiments/bench/report.hpp"
#include "experiments/common/harness.hpp"
#include "experiments/common/progress.hpp"
#include "experiments/common/trace_file.hpp"
#include "layers/block_io.hpp"
#include "layers/documents.hpp"
#include "layers/npy.hpp"

namespace ody::experiments::bench {
namespace {

int run(int argc, char** argv) {
  Options o;
  CLI::App app{
      "ody-bench: sequence-parallel strategies of one decoder block, forward and backward"};
  add_flags(app, o);
  parse_command_line(app, argc, argv);

  int world_size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  Plan plan = make_plan(o, world_size);
  const layers::BlockConfig cfg = plan.cfg;
  Session s("ody-bench", o.run);
  layers::KokkosScope kokkos(o.host_memory == "retain" ? layers::HostMemory::retain
                                                       : layers::HostMemory::release);
  const std::vector<int> nodes = node_of_rank(s.info(), o.virtual_nodes);
  Placed placed = place_runs(plan, o, nodes, s);

  int runnable = 0;
  for (const auto& r : plan.runs) runnable += r.skip.empty();
  const int steps = o.run.warmup + o.run.iters;
  Progress progress(s.rank() == 0, runnable * steps + ((o.check || o.baseline) ? steps : 0));
  const Inputs in = make_inputs(o, cfg);
  if (!o.dump.empty() && s.rank() == 0) {
    layers::save_block_inputs(std::filesystem::path(o.dump) / "inputs", in.x, in.dy, in.w);
    if (!cfg.doc_starts.empty()) {  // the documents, for an outside checker (int64)
      const auto lens = layers::doc_lens_of(cfg.doc_starts, cfg.L);
      layers::write_npy_int64(std::filesystem::path(o.dump) / "inputs" / "doc_lens.npy",
                              lens.data(), {lens.size()});
    }
  }
  const Reference ref = run_reference(o, cfg, in, s, progress);
  const Setting setting{cfg, *std::max_element(nodes.begin(), nodes.end()) + 1, ref,
                        std::move(placed)};
  write_json_header(o, setting, s);
  print_header(o, setting, plan, s);

  if (!o.trace.empty()) comm::trace::take_events();  // only the timed iterations below
  s.barrier();
  const double trace_t0 = comm::trace::now_us();
  bool all_ok = true;
  std::vector<Result> results;
  for (const auto& planned : plan.runs) {
    if (!planned.skip.empty()) continue;
    results.push_back(measure(planned, cfg, o, in, ref, s, progress));
    all_ok = report(results.back(), o, setting, s) && all_ok;
  }
  progress.done();
  print_bytes_table(results, s);
  if (!o.trace.empty()) write_chrome_trace(o.trace, trace_t0, s.raw());
  if (s.rank() == 0) {
    if (!o.trace.empty())
      std::printf("\n# trace: %s (open in ui.perfetto.dev or chrome://tracing)\n", o.trace.c_str());
    if (!o.dump.empty())
      std::printf("# dump: %s/{inputs,single-rank,<strategy>}/*.npy\n", o.dump.c_str());
    std::printf(
        "\n# %s\n",
        all_ok ? "OK" : "FAILED: a strategy differs from the single-rank block or from its cost");
  }
  return all_ok ? 0 : 1;
}

}  // namespace
}  // namespace ody::experiments::bench

int main(int argc, char** argv) {
  return ody::experiments::tool_main("ody-bench", argc, argv, ody::experiments::bench::run);
}
