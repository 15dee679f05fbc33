#include "experiments/bench/measure.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "backends/hierarchical/communicator.hpp"
#include "backends/mpi/check.hpp"
#include "comm/trace.hpp"
#include "experiments/bench/metrics.hpp"
#include "layers/block_io.hpp"
#include "strategies/factory.hpp"

namespace ody::experiments::bench {

using layers::Array3;

namespace {

// Worst relative error of y, dx and every gradient against the reference (rank 0), on every rank.
double check_outputs(const Result& res, strategies::Strategy& st, const layers::BlockConfig& cfg,
                     const Options& o, const Array3& yl, const Array3& dxl, const Reference& ref,
                     Session& s) {
  Array3 yf("yf", cfg.B, cfg.L, cfg.d), dxf("dxf", cfg.B, cfg.L, cfg.d);
  strategies::unshard(res.layout, yl.data(), yf.data(), cfg.B, cfg.L, cfg.d, st.comm(),
                      cfg.doc_starts);
  strategies::unshard(res.layout, dxl.data(), dxf.data(), cfg.B, cfg.L, cfg.d, st.comm(),
                      cfg.doc_starts);
  layers::BlockGrads g(cfg);
  st.gather_grads(g);
  if (s.rank() == 0 && !o.dump.empty())
    layers::save_block_outputs(std::filesystem::path(o.dump) / res.name, yf, dxf, &g);
  if (!o.check) return -1;
  double err = 0;
  if (s.rank() == 0) {
    const auto n = static_cast<std::size_t>(cfg.B * cfg.L * cfg.d);
    err = std::max(rel_err(yf.data(), ref.y.data(), n), rel_err(dxf.data(), ref.dx.data(), n));
    const auto gt = g.tensors(), rt = ref.g.tensors();
    for (std::size_t k = 0; k < gt.size(); ++k)
      err = std::max(err, rel_err(gt[k].data, rt[k].data, gt[k].size()));
  }
  ODY_MPI_CHECK(MPI_Bcast(&err, 1, MPI_DOUBLE, 0, s.raw()));
  return err;
}

}  // namespace

Result measure(const Planned& planned, const layers::BlockConfig& cfg, const Options& o,
               const Inputs& in, const Reference& ref, Session& s, Progress& progress) {
  const std::string& name = planned.name;
  const int p = s.size(), iters = o.run.iters;
  const std::int64_t Ll = cfg.L / p;
  Result res;
  res.name = name;
  res.mesh = strategies::describe_mesh(name, cfg, p, planned.options);
  s.barrier();
  PeakMemory mem;
  mem.start();
  auto st = strategies::make_strategy(name, cfg, s.world(), planned.options);
  // A dimension whose group spans nodes runs on a hierarchical (two-level) communicator
  // (strategies/factory.hpp, node_of_rank): one line per such dimension (rank 0's group).
  for (const auto& d : st->mesh_dims())
    if (auto* h =
            dynamic_cast<backends::hierarchical::HierarchicalCommunicator*>(&st->mesh_comm(d.name));
        h && s.rank() == 0)
      std::printf(
          "# two-level %s: %s=%d hierarchical (%d nodes x %d ranks: intra-node then inter-node "
          "steps)\n",
          name.c_str(), d.name.c_str(), d.size, h->nodes(), h->ranks_per_node());
  res.layout = st->layout();
  res.weights = std::string(strategies::to_string(st->weight_mode()));
  // Inputs: this rank's shard of the full tensors, in the strategy's layout slot.
  Array3 xl("xl", cfg.B, Ll, cfg.d), dyl("dyl", cfg.B, Ll, cfg.d);
  strategies::shard(res.layout, in.x.data(), xl.data(), cfg.B, cfg.L, cfg.d, p, st->layout_rank(),
                    cfg.doc_starts);
  strategies::shard(res.layout, in.dy.data(), dyl.data(), cfg.B, cfg.L, cfg.d, p, st->layout_rank(),
                    cfg.doc_starts);
  st->set_weights(in.w);
  const strategies::Cost cost = st->cost();
  res.peak_expected = expected_peak_bytes(cost, cfg, p);
  res.expected = cost.forward;
  res.expected += cost.backward;
  Array3 yl("yl", cfg.B, Ll, cfg.d), dxl("dxl", cfg.B, Ll, cfg.d);
  for (int it = 0; it < o.run.warmup; ++it) {
    st->forward(yl, xl);
    st->backward(dxl, dyl);
    progress.step(name + " warm-up");
  }
  std::vector<double> tf(iters), tb(iters), te(iters);
  st->reset_traffic();
  comm::trace::enable(!o.trace.empty());
  for (int it = 0; it < iters; ++it) {
    s.barrier();
    const double blocked0 = comm::trace::blocked_seconds();
    auto t0 = std::chrono::steady_clock::now();
    {
      comm::trace::Scope span(name + " forward");
      st->forward(yl, xl);
    }
    tf[it] = seconds_since(t0);
    s.barrier();
    t0 = std::chrono::steady_clock::now();
    {
      comm::trace::Scope span(name + " backward");
      st->backward(dxl, dyl);
    }
    tb[it] = seconds_since(t0);
    te[it] = comm::trace::blocked_seconds() - blocked0;
    progress.step(name + " iteration " + std::to_string(it + 1) + "/" + std::to_string(iters));
  }
  comm::trace::enable(false);
  // Every communicator the strategy sends on (its world, possibly reordered by the
  // placement, and a hybrid's mesh dimensions).
  const auto total = st->traffic();
  int mismatch = 0;
  for (int k = 0; k < comm::kNumOpKinds; ++k) {
    res.per_iter.by_kind[k].ops = total.by_kind[k].ops / iters;
    res.per_iter.by_kind[k].bytes_sent = total.by_kind[k].bytes_sent / iters;
    res.per_iter.by_kind[k].bytes_recv = total.by_kind[k].bytes_recv / iters;
    mismatch |= res.per_iter.by_kind[k].bytes_sent != res.expected.by_kind[k].bytes_sent ||
                total.by_kind[k].bytes_sent % iters != 0;
  }
  ODY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &mismatch, 1, MPI_INT, MPI_MAX, s.raw()));
  res.bytes_match = mismatch == 0;
  res.fwd_ms = s.slowest_median(tf) * 1e3;
  res.bwd_ms = s.slowest_median(tb) * 1e3;
  res.exposed_ms = s.slowest_median(te) * 1e3;
  double peak = mem.peak_bytes_since();
  ODY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &peak, 1, MPI_DOUBLE, MPI_MAX, s.raw()));
  res.peak_bytes = peak;
  // Attention work per rank (Strategy::attention_pairs): max over the mean.
  double work_max = double(st->attention_pairs()), work_sum = work_max;
  ODY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &work_max, 1, MPI_DOUBLE, MPI_MAX, s.raw()));
  ODY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &work_sum, 1, MPI_DOUBLE, MPI_SUM, s.raw()));
  res.attn_imbalance = work_sum > 0 ? work_max / (work_sum / p) : 1;
  if (o.check || !o.dump.empty())
    res.max_rel_err = check_outputs(res, *st, cfg, o, yl, dxl, ref, s);
  return res;
}

}  // namespace ody::experiments::bench
