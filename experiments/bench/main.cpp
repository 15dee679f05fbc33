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
#include <mpi.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "backends/mpi/check.hpp"
#include "backends/registry.hpp"
#include "base/error.hpp"
#include "comm/hierarchical.hpp"
#include "comm/trace.hpp"
#include "experiments/bench/metrics.hpp"
#include "experiments/bench/options.hpp"
#include "experiments/common/live_cluster.hpp"
#include "experiments/common/progress.hpp"
#include "experiments/common/tool.hpp"
#include "experiments/common/trace_file.hpp"
#include "layers/blas_kernel.hpp"
#include "layers/block.hpp"
#include "layers/block_io.hpp"
#include "layers/views.hpp"
#include "strategies/factory.hpp"
#include "strategies/layout.hpp"
#include "topology/cluster.hpp"
#include "topology/placement.hpp"

namespace ody::experiments::bench {
namespace {

using layers::Array3;
using layers::BlockConfig;
namespace fs = std::filesystem;

std::string sci(double v) {
  char s[32];
  std::snprintf(s, sizeof s, "%.2e", v);
  return s;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Result {
  std::string mesh;
  strategies::TokenLayout layout{};
  std::string weights;
  double fwd_ms = 0, bwd_ms = 0, exposed_ms = 0, peak_bytes = 0;
  double peak_expected = 0;        // expected_peak_bytes()
  comm::TrafficSnapshot per_iter;  // measured on rank 0, one forward + one backward
  comm::TrafficSnapshot expected;  // rank 0's cost formula
  bool bytes_match = true;         // on every rank
  double max_rel_err = -1;         // < 0: not checked
};

// The inputs every rank holds in full (seeded or loaded), and the single-rank outputs.
struct Inputs {
  Array3 x, dy;
  layers::BlockWeights w;
};

Inputs make_inputs(const Options& o, const BlockConfig& cfg) {
  if (!o.load.empty()) {
    auto in = layers::load_block(o.load, cfg);
    if (in.dy.size() == 0) throw Error("--load", "dy.npy in " + o.load + " (backward needs it)", "none");
    if (cfg.precision == layers::Precision::bf16) {  // bf16 inputs and weights, as the seeded ones
      layers::round_bf16(in.x.data(), in.x.size());
      layers::round_bf16(in.dy.data(), in.dy.size());
      for (const auto& t : in.weights.tensors()) layers::round_bf16(t.data, t.size());
    }
    return {std::move(in.x), std::move(in.dy), std::move(in.weights)};
  }
  Inputs in{layers::make_block_input(cfg, o.seed), layers::make_block_dy(cfg, o.seed), layers::BlockWeights(cfg)};
  layers::init_block_weights(in.w, cfg, o.seed);
  return in;
}

// Node of each world rank: distinct host names, or K pretend nodes of contiguous ranks.
std::vector<int> node_of_rank(const RunInfo& info, int virtual_nodes) {
  const int p = static_cast<int>(info.hosts.size());
  std::vector<int> node(p);
  if (virtual_nodes > 0) {
    for (int r = 0; r < p; ++r) node[r] = r / (p / virtual_nodes);
    return node;
  }
  std::vector<std::string> seen;
  for (int r = 0; r < p; ++r) {
    auto it = std::find(seen.begin(), seen.end(), info.hosts[r]);
    node[r] = static_cast<int>(it - seen.begin());
    if (it == seen.end()) seen.push_back(info.hosts[r]);
  }
  return node;
}

int run(int argc, char** argv) {
  Options o;
  CLI::App app{"ody-bench: sequence-parallel strategies of one decoder block, forward and backward"};
  add_flags(app, o);
  parse_command_line(app, argc, argv);

  int world_size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  Plan plan = make_plan(o, world_size);
  const BlockConfig cfg = plan.cfg;
  std::unique_ptr<comm::Communicator> world;
  try {
    world = backends::create_world(o.backend);
  } catch (const ody::Error& e) {
    throw UsageError(e.what());
  }

  layers::KokkosScope kokkos(o.host_memory == "retain" ? layers::HostMemory::retain : layers::HostMemory::release);
  const int rank = world->rank(), p = world->size();
  MPI_Comm raw;
  ODY_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &raw));
  const RunInfo info = gather_run_info(*world);
  const std::vector<int> nodes = node_of_rank(info, o.virtual_nodes);
  const int node_count = *std::max_element(nodes.begin(), nodes.end()) + 1;

  // Placement of the hybrids' meshes on the cluster (inner dimension inside nodes). The
  // cluster is identical on every rank, so a bad mesh fails the same way everywhere.
  const bool any_hybrid = std::any_of(plan.runs.begin(), plan.runs.end(), [](const Planned& r) {
    return r.skip.empty() && (r.name == "usp" || r.name == "odysseus-ring");
  });
  std::vector<std::string> placement_lines;
  if (any_hybrid && node_count > 1) {
    topology::Cluster cluster = live_cluster(*world);
    if (o.virtual_nodes > 0) cluster = topology::with_virtual_nodes(cluster, o.virtual_nodes);
    for (auto& r : plan.runs) {
      if (!r.skip.empty() || (r.name != "usp" && r.name != "odysseus-ring")) continue;
      std::vector<topology::MeshDim> mesh;
      for (const auto& d : strategies::default_mesh(r.name, cfg, p, r.options)) mesh.push_back({d.name, d.size});
      try {
        const topology::Placement pl = topology::place_mesh(cluster, mesh);
        r.options.placement = pl.rank_of_index;
        for (const auto& d : pl.dims) placement_lines.push_back(r.name + ": " + d.explanation);
      } catch (const ody::Error& e) {
        throw UsageError(e.what());
      }
    }
  }
  for (auto& r : plan.runs) r.options.node_of_rank = nodes;

  JsonLines json(o.json, rank == 0);
  auto header = header_json(info);
  header["tool"] = "ody-bench";
  header["backend"] = o.backend;
  header["nodes"] = node_count;
  header["virtual_nodes"] = o.virtual_nodes;
  header["shape"] = {{"B", cfg.B}, {"L", cfg.L}, {"d", cfg.d}, {"H", cfg.H}, {"G", cfg.G}, {"i", cfg.ffn},
                     {"causal", cfg.causal}, {"dtype", o.dtype}};
  header["inputs"] = o.load.empty() ? "seed " + std::to_string(o.seed) : "loaded from " + o.load;
  header["iters"] = o.iters;
  header["host_memory"] = layers::host_memory_policy().description;
  header["warmup"] = o.warmup;
  header["timing"] = "median over iterations of the slowest rank";
  header["exposed_comm"] = "time blocked waiting for communication in forward+backward, slowest rank, median";
  header["flops"] = "model FLOPs; causal attention counted as half of L^2; backward = 2x GEMMs + 2.5x attention";
  json.write(header);

  const Flops flops = block_flops(cfg);
  const std::int64_t Ll = cfg.L / p;
  const std::size_t full_elems = static_cast<std::size_t>(cfg.B * cfg.L * cfg.d);
  int runnable = 0;
  for (const auto& r : plan.runs) runnable += r.skip.empty();
  Progress progress(rank == 0, runnable * (o.warmup + o.iters) + ((o.check || o.baseline) ? o.warmup + o.iters : 0));

  Inputs in = make_inputs(o, cfg);
  if (!o.dump.empty() && rank == 0) layers::save_block_inputs(fs::path(o.dump) / "inputs", in.x, in.dy, in.w);

  // The single-rank reference (rank 0 only): outputs for --check, its time and peak memory.
  Array3 y_ref, dx_ref;
  layers::BlockGrads g_ref;
  double ref_ms = -1, ref_peak = -1;
  const double ref_peak_expected = single_rank_expected_peak_bytes(cfg);
  if (o.check || o.baseline) {
    if (rank == 0) {
      PeakMemory mem;
      mem.start();
      y_ref = Array3("y_ref", cfg.B, cfg.L, cfg.d);
      dx_ref = Array3("dx_ref", cfg.B, cfg.L, cfg.d);
      g_ref = layers::BlockGrads(cfg);
      layers::Block block(cfg);
      std::vector<double> t;
      for (int it = 0; it < o.warmup + o.iters; ++it) {
        const auto t0 = std::chrono::steady_clock::now();
        block.forward(y_ref, in.x, in.w);
        block.backward(dx_ref, g_ref, in.dy, in.w);
        if (it >= o.warmup) t.push_back(seconds_since(t0));
        progress.step("single-rank block");
      }
      ref_ms = median(t) * 1e3;
      ref_peak = mem.peak_bytes_since();
      if (!o.dump.empty()) layers::save_block_outputs(fs::path(o.dump) / "single-rank", y_ref, dx_ref, &g_ref);
    }
    double v[2] = {ref_ms, ref_peak};
    ODY_MPI_CHECK(MPI_Bcast(v, 2, MPI_DOUBLE, 0, raw));
    ref_ms = v[0];
    ref_peak = v[1];
  }

  if (rank == 0) {
    std::printf("# ody-bench: %d ranks on %zu host(s)%s, backend %s, commit %s\n", p,
                std::set<std::string>(info.hosts.begin(), info.hosts.end()).size(),
                o.virtual_nodes > 0 ? (" as " + std::to_string(o.virtual_nodes) + " pretend nodes").c_str() : "",
                o.backend.c_str(), info.commit.c_str());
    std::printf("# B=%lld L=%lld d=%lld H=%lld G=%lld i=%lld %s %s; %d iterations after %d warm-up; inputs %s\n",
                (long long)cfg.B, (long long)cfg.L, (long long)cfg.d, (long long)cfg.H, (long long)cfg.G,
                (long long)cfg.ffn, cfg.causal ? "causal" : "non-causal", o.dtype.c_str(), o.iters, o.warmup,
                o.load.empty() ? ("seed " + std::to_string(o.seed)).c_str() : o.load.c_str());
    std::printf("# host memory: %s\n", layers::host_memory_policy().description.c_str());
    std::printf("# blas: %s\n", layers::blas_info().description().c_str());
    if (ref_ms >= 0)
      std::printf("# single-rank block (rank 0 alone): fwd+bwd %.1f ms, peak %.1f MB (expected %.1f MB)\n", ref_ms,
                  ref_peak / 1e6, ref_peak_expected / 1e6);
    for (const auto& l : placement_lines) std::printf("# placement %s\n", l.c_str());
    for (const auto& r : plan.runs)
      if (!r.skip.empty()) std::printf("# skipped %s: %s\n", r.name.c_str(), r.skip.c_str());
    std::printf("\n%-13s %-16s %9s %9s %8s %14s %10s %9s %10s %10s %14s %13s %10s\n", "strategy", "mesh", "fwd(ms)",
                "bwd(ms)", "speedup", "exposed ms(%)", "tokens/s", "GFLOP/s/r", "sent MB/it", "expect MB",
                "peak MB(x1rk)", "peak MB(exp)", "max relerr");
    std::fflush(stdout);
  }

  if (!o.trace.empty()) comm::trace::take_events();  // only the timed iterations below
  ODY_MPI_CHECK(MPI_Barrier(raw));
  const double trace_t0 = comm::trace::now_us();

  bool all_ok = true;
  std::vector<std::pair<std::string, Result>> results;
  for (const auto& planned : plan.runs) {
    if (!planned.skip.empty()) continue;
    const std::string& name = planned.name;
    Result res;
    res.mesh = strategies::describe_mesh(name, cfg, p, planned.options);
    ODY_MPI_CHECK(MPI_Barrier(raw));
    PeakMemory mem;
    mem.start();
    {
      auto s = strategies::make_strategy(name, cfg, *world, planned.options);
      // A dimension whose group spans nodes runs on a hierarchical (two-level) communicator
      // (strategies/factory.hpp, node_of_rank): one line per such dimension (rank 0's group).
      for (const auto& d : s->mesh_dims())
        if (auto* h = dynamic_cast<comm::HierarchicalCommunicator*>(&s->mesh_comm(d.name)); h && rank == 0)
          std::printf("# two-level %s: %s=%d hierarchical (%d nodes x %d ranks: intra-node then inter-node steps)\n",
                      name.c_str(), d.name.c_str(), d.size, h->nodes(), h->ranks_per_node());
      res.layout = s->layout();
      res.weights = std::string(strategies::to_string(s->weight_mode()));
      // Inputs: this rank's shard of the full tensors, in the strategy's layout slot.
      Array3 xl("xl", cfg.B, Ll, cfg.d), dyl("dyl", cfg.B, Ll, cfg.d);
      strategies::shard(res.layout, in.x.data(), xl.data(), cfg.B, cfg.L, cfg.d, p, s->layout_rank());
      strategies::shard(res.layout, in.dy.data(), dyl.data(), cfg.B, cfg.L, cfg.d, p, s->layout_rank());
      s->set_weights(in.w);
      const strategies::Cost cost = s->cost();
      res.peak_expected = expected_peak_bytes(cost, cfg, p);
      res.expected = cost.forward;
      res.expected += cost.backward;
      Array3 yl("yl", cfg.B, Ll, cfg.d), dxl("dxl", cfg.B, Ll, cfg.d);
      for (int it = 0; it < o.warmup; ++it) {
        s->forward(yl, xl);
        s->backward(dxl, dyl);
        progress.step(name + " warm-up");
      }
      std::vector<double> tf(o.iters), tb(o.iters), te(o.iters);
      s->reset_traffic();
      comm::trace::enable(!o.trace.empty());
      for (int it = 0; it < o.iters; ++it) {
        ODY_MPI_CHECK(MPI_Barrier(raw));
        const double blocked0 = comm::trace::blocked_seconds();
        auto t0 = std::chrono::steady_clock::now();
        {
          comm::trace::Scope span(name + " forward");
          s->forward(yl, xl);
        }
        tf[it] = seconds_since(t0);
        ODY_MPI_CHECK(MPI_Barrier(raw));
        t0 = std::chrono::steady_clock::now();
        {
          comm::trace::Scope span(name + " backward");
          s->backward(dxl, dyl);
        }
        tb[it] = seconds_since(t0);
        te[it] = comm::trace::blocked_seconds() - blocked0;
        progress.step(name + " iteration " + std::to_string(it + 1) + "/" + std::to_string(o.iters));
      }
      comm::trace::enable(false);
      // Every communicator the strategy sends on (its world, possibly reordered by the
      // placement, and a hybrid's mesh dimensions).
      auto& sc = s->comm();
      const auto total = s->traffic();
      int mismatch = 0;
      for (int k = 0; k < comm::kNumOpKinds; ++k) {
        res.per_iter.by_kind[k].ops = total.by_kind[k].ops / o.iters;
        res.per_iter.by_kind[k].bytes_sent = total.by_kind[k].bytes_sent / o.iters;
        res.per_iter.by_kind[k].bytes_recv = total.by_kind[k].bytes_recv / o.iters;
        mismatch |= res.per_iter.by_kind[k].bytes_sent != res.expected.by_kind[k].bytes_sent ||
                    total.by_kind[k].bytes_sent % o.iters != 0;
      }
      ODY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &mismatch, 1, MPI_INT, MPI_MAX, raw));
      res.bytes_match = mismatch == 0;
      res.fwd_ms = slowest_median(tf, raw) * 1e3;
      res.bwd_ms = slowest_median(tb, raw) * 1e3;
      res.exposed_ms = slowest_median(te, raw) * 1e3;
      double peak = mem.peak_bytes_since();
      ODY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &peak, 1, MPI_DOUBLE, MPI_MAX, raw));
      res.peak_bytes = peak;

      if (o.check || !o.dump.empty()) {
        Array3 yf("yf", cfg.B, cfg.L, cfg.d), dxf("dxf", cfg.B, cfg.L, cfg.d);
        strategies::unshard(res.layout, yl.data(), yf.data(), cfg.B, cfg.L, cfg.d, sc);
        strategies::unshard(res.layout, dxl.data(), dxf.data(), cfg.B, cfg.L, cfg.d, sc);
        layers::BlockGrads g(cfg);
        s->gather_grads(g);
        if (rank == 0 && !o.dump.empty()) layers::save_block_outputs(fs::path(o.dump) / name, yf, dxf, &g);
        if (o.check) {
          double err = 0;
          if (rank == 0) {
            err = std::max(rel_err(yf.data(), y_ref.data(), full_elems), rel_err(dxf.data(), dx_ref.data(), full_elems));
            const auto gt = g.tensors(), rt = g_ref.tensors();
            for (std::size_t k = 0; k < gt.size(); ++k)
              err = std::max(err, rel_err(gt[k].data, rt[k].data, gt[k].size()));
          }
          ODY_MPI_CHECK(MPI_Bcast(&err, 1, MPI_DOUBLE, 0, raw));
          res.max_rel_err = err;
        }
      }
    }

    const double sent = static_cast<double>(res.per_iter.total().bytes_sent);
    const double want = static_cast<double>(res.expected.total().bytes_sent);
    const double step_ms = res.fwd_ms + res.bwd_ms;
    const double tokens_s = static_cast<double>(cfg.tokens()) / (step_ms / 1e3);
    const double gflops_rank = (flops.fwd + flops.bwd) / p / (step_ms / 1e3) / 1e9;
    const double speedup = ref_ms > 0 ? ref_ms / step_ms : -1;
    // f32 strategies against the f32 block: orderings of sums differ; 1e-3 relative is far
    // above that rounding (~1e-5 here; the tests derive a tight bound) and far below any
    // real bug (O(1)). bf16 against the bf16 block: a rounding may land on the other side
    // of a tie, one bf16 ulp carried through the chain; the tests' derived bound
    // (tests/strategies/strategy_check.hpp) is 4 x 2 x 2^-8 of the largest element.
    const double limit = cfg.precision == layers::Precision::bf16 ? 8.0 / 256 : 1e-3;
    const bool ok = (res.max_rel_err < 0 || res.max_rel_err < limit) && res.bytes_match;
    all_ok = all_ok && ok;
    if (rank == 0) {
      char exposed[32], peak[32], speed[16], peak_exp[32];
      std::snprintf(exposed, sizeof exposed, "%.1f (%.0f%%)", res.exposed_ms, 100.0 * res.exposed_ms / step_ms);
      if (ref_peak > 0) std::snprintf(peak, sizeof peak, "%.1f (%.2f)", res.peak_bytes / 1e6, res.peak_bytes / ref_peak);
      else std::snprintf(peak, sizeof peak, "%.1f", res.peak_bytes / 1e6);
      std::snprintf(speed, sizeof speed, "%.2fx", speedup);
      std::snprintf(peak_exp, sizeof peak_exp, "%.1f (%.2f)", res.peak_expected / 1e6,
                    res.peak_bytes / res.peak_expected);
      std::printf("%-13s %-16s %9.1f %9.1f %8s %14s %10.0f %9.2f %10.3f %10.3f %14s %13s %10s%s\n", name.c_str(),
                  res.mesh.c_str(), res.fwd_ms, res.bwd_ms, speedup > 0 ? speed : "-", exposed, tokens_s,
                  gflops_rank, sent / 1e6, want / 1e6, peak, peak_exp,
                  res.max_rel_err < 0 ? "-" : sci(res.max_rel_err).c_str(),
                  ok ? "" : "  <-- MISMATCH");
      std::fflush(stdout);
    }
    nlohmann::json by_kind = nlohmann::json::object();
    for (int k = 0; k < comm::kNumOpKinds; ++k) {
      const auto kind = static_cast<comm::OpKind>(k);
      if (res.per_iter[kind].ops == 0 && res.expected[kind].ops == 0) continue;
      by_kind[std::string(comm::to_string(kind))] = {{"ops", res.per_iter[kind].ops},
                                                     {"bytes_sent", res.per_iter[kind].bytes_sent},
                                                     {"bytes_expected", res.expected[kind].bytes_sent}};
    }
    auto null_if_neg = [](double v) { return v < 0 ? nlohmann::json(nullptr) : nlohmann::json(v); };
    json.write({{"type", "result"}, {"strategy", name}, {"world_size", p}, {"mesh", res.mesh},
                {"weights", res.weights}, {"layout", strategies::to_string(res.layout)}, {"seq_len", cfg.L},
                {"batch", cfg.B}, {"hidden", cfg.d}, {"heads", cfg.H}, {"kv_heads", cfg.G}, {"ffn", cfg.ffn},
                {"causal", cfg.causal}, {"dtype", o.dtype}, {"fwd_ms", res.fwd_ms}, {"bwd_ms", res.bwd_ms},
                {"exposed_comm_ms", res.exposed_ms}, {"single_rank_ms", null_if_neg(ref_ms)},
                {"single_rank_peak_mem_bytes", null_if_neg(ref_peak)},
                {"single_rank_peak_mem_expected_bytes", ref_peak_expected}, {"tokens_per_s", tokens_s},
                {"gflops_per_rank", gflops_rank}, {"bytes_sent", res.per_iter.total().bytes_sent},
                {"bytes_expected", res.expected.total().bytes_sent}, {"bytes_match_all_ranks", res.bytes_match},
                {"bytes_by_kind", by_kind}, {"peak_mem_bytes", res.peak_bytes},
                {"peak_mem_expected_bytes", res.peak_expected},
                {"max_rel_err", null_if_neg(res.max_rel_err)}});
    results.emplace_back(name, res);
  }
  progress.done();

  // Bytes sent per rank and iteration by operation kind (rank 0; measured = formula when OK).
  if (rank == 0 && !results.empty()) {
    std::vector<int> kinds;
    for (int k = 0; k < comm::kNumOpKinds; ++k)
      for (const auto& [n, r] : results)
        if (r.per_iter.by_kind[k].ops > 0) {
          kinds.push_back(k);
          break;
        }
    std::printf("\n%-13s", "MB sent/it");
    for (int k : kinds) std::printf(" %13s", std::string(comm::to_string(static_cast<comm::OpKind>(k))).c_str());
    std::printf("\n");
    for (const auto& [n, r] : results) {
      std::printf("%-13s", n.c_str());
      for (int k : kinds) std::printf(" %13.3f", static_cast<double>(r.per_iter.by_kind[k].bytes_sent) / 1e6);
      std::printf("\n");
    }
  }
  if (!o.trace.empty()) write_chrome_trace(o.trace, trace_t0, raw);
  ODY_MPI_CHECK(MPI_Comm_free(&raw));
  if (rank == 0) {
    if (!o.trace.empty()) std::printf("\n# trace: %s (open in ui.perfetto.dev or chrome://tracing)\n", o.trace.c_str());
    if (!o.dump.empty()) std::printf("# dump: %s/{inputs,single-rank,<strategy>}/*.npy\n", o.dump.c_str());
    std::printf("\n# %s\n", all_ok ? "OK" : "FAILED: a strategy differs from the single-rank block or from its cost");
  }
  return all_ok ? 0 : 1;
}

}  // namespace
}  // namespace ody::experiments::bench

int main(int argc, char** argv) {
  return ody::experiments::tool_main("ody-bench", argc, argv, ody::experiments::bench::run);
}
