#include "experiments/bench/reference.hpp"

#include <chrono>
#include <filesystem>

#include "backends/mpi/check.hpp"
#include "base/error.hpp"
#include "experiments/bench/metrics.hpp"
#include "layers/block_io.hpp"
#include "layers/init.hpp"
#include "layers/precision.hpp"

namespace ody::experiments::bench {

Inputs make_inputs(const Options& o, const layers::BlockConfig& cfg) {
  if (!o.load.empty()) {
    auto in = layers::load_block(o.load, cfg);
    if (in.dy.size() == 0)
      throw Error("--load", "dy.npy in " + o.load + " (backward needs it)", "none");
    if (cfg.precision == layers::Precision::bf16) {  // bf16 inputs and weights, as the seeded ones
      layers::round_bf16(in.x.data(), in.x.size());
      layers::round_bf16(in.dy.data(), in.dy.size());
      for (const auto& t : in.weights.tensors()) layers::round_bf16(t.data, t.size());
    }
    return {std::move(in.x), std::move(in.dy), std::move(in.weights)};
  }
  Inputs in{layers::make_block_input(cfg, o.seed), layers::make_block_dy(cfg, o.seed),
            layers::BlockWeights(cfg)};
  layers::init_block_weights(in.w, cfg, o.seed);
  return in;
}

Reference run_reference(const Options& o, const layers::BlockConfig& cfg, const Inputs& in,
                        Session& s, Progress& progress) {
  Reference ref;
  ref.peak_expected = single_rank_expected_peak_bytes(cfg);
  if (!o.check && !o.baseline) return ref;
  if (s.rank() == 0) {
    PeakMemory mem;
    mem.start();
    ref.y = layers::Array3("y_ref", cfg.B, cfg.L, cfg.d);
    ref.dx = layers::Array3("dx_ref", cfg.B, cfg.L, cfg.d);
    ref.g = layers::BlockGrads(cfg);
    layers::Block block(cfg);
    std::vector<double> t;
    for (int it = 0; it < o.run.warmup + o.run.iters; ++it) {
      const auto t0 = std::chrono::steady_clock::now();
      block.forward(ref.y, in.x, in.w);
      block.backward(ref.dx, ref.g, in.dy, in.w);
      if (it >= o.run.warmup) t.push_back(seconds_since(t0));
      progress.step("single-rank block");
    }
    ref.ms = median(t) * 1e3;
    ref.peak = mem.peak_bytes_since();
    if (!o.dump.empty())
      layers::save_block_outputs(std::filesystem::path(o.dump) / "single-rank", ref.y, ref.dx,
                                 &ref.g);
  }
  double v[2] = {ref.ms, ref.peak};
  ODY_MPI_CHECK(MPI_Bcast(v, 2, MPI_DOUBLE, 0, s.raw()));
  ref.ms = v[0];
  ref.peak = v[1];
  return ref;
}

}  // namespace ody::experiments::bench
