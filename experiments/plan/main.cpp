// ody-plan: which layout wins on a cluster you do not have. Every strategy and mesh on a
// preset cluster, predicted by the cost model (experiments/plan/model.hpp) from the
// strategies' own cost() and the block's FLOPs, ranked by step time (docs/plan.md).
//
//   build/bin/ody-plan --preset dgx-a100 --nodes 2 --model llama3-8b --seq-len 128K [--json]
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/registry.hpp"
#include "base/error.hpp"
#include "experiments/common/tool.hpp"
#include "experiments/plan/calibrate.hpp"
#include "experiments/plan/planner.hpp"
#include "layers/views.hpp"

namespace ody::experiments::plan {
namespace {

struct Options {
  std::string preset = "dgx-a100", model, seq_len = "16K", strategy = "all", profile, out,
              dtype = "bf16";
  bool calibrate = false;
  int nodes = 1;
  std::int64_t hidden = 0, heads = 0, kv_heads = 0, ffn = 0, layers = 0, batch = 1;
  double gpu_mem_gb = 0;
  bool causal = true, json = false;
};

int run(int argc, char** argv) {
  Options o;
  CLI::App app{"ody-plan: every strategy and mesh on a cluster, ranked by predicted step time"};
  app.add_option("--preset", o.preset, "dgx-a100 (default) or dgx-h100");
  app.add_option("--nodes", o.nodes, "nodes of the preset (default 1)");
  app.add_option("--model", o.model, "llama2-7b, llama3-8b or llama3-70b (or the shape flags)");
  app.add_option("--hidden", o.hidden, "hidden size d (with --heads, --kv-heads, --ffn, --layers)");
  app.add_option("--heads", o.heads, "query heads H");
  app.add_option("--kv-heads", o.kv_heads, "key/value heads G");
  app.add_option("--ffn", o.ffn, "MLP size i");
  app.add_option("--layers", o.layers, "decoder blocks n");
  app.add_option("--seq-len", o.seq_len, "sequence length L (K/M suffixes; default 16K)");
  app.add_option("--batch", o.batch, "sequences per step (default 1)");
  app.add_flag("--causal,!--no-causal", o.causal, "causal attention (default)");
  app.add_option("--strategy", o.strategy, "one strategy or all (default)");
  app.add_option("--gpu-mem", o.gpu_mem_gb, "device memory in GB (default: the preset's)");
  app.add_flag("--json", o.json, "one JSON object: plans (best first) and invalid");
  app.add_option("--dtype", o.dtype, "bf16 (default: the wire of a GPU cluster) or f32");
  app.add_option("--profile", o.profile, "a profile from --calibrate instead of --preset");
  app.add_flag("--calibrate", o.calibrate,
               "measure this machine (under mpirun, every rank) and write --out FILE");
  app.add_option("--out", o.out, "the profile --calibrate writes");
  parse_command_line(app, argc, argv);

  if (o.calibrate) {
    if (o.out.empty()) throw UsageError("--calibrate: expected --out FILE, found none");
    layers::KokkosScope kokkos;
    auto world = backends::create_world("mpi");
    const Cluster c = calibrate(*world);
    if (world->rank() == 0) {
      std::ofstream f(o.out);
      if (!f) throw UsageError("--out: expected a writable file, found '" + o.out + "'");
      f << profile_to_json(c).dump(1) << "\n";
      std::printf(
          "# ody-plan --calibrate: %d ranks; sgemm %.1f GFLOP/s a rank; attention fwd %.2f, "
          "bwd %.2f of it; all-gather %.2f GB/s, all-to-all %.2f, hop %.2f, step %.1f us; "
          "wrote %s\n",
          c.gpus_per_node, c.device.peak_flops / 1e9, c.device.attn_fwd_eff, c.device.attn_bwd_eff,
          c.intra.collective_Bps / 1e9, c.intra.alltoall_Bps / 1e9, c.intra.p2p_Bps / 1e9,
          c.intra.step_latency_s * 1e6, o.out.c_str());
    }
    return 0;
  }

  Cluster cluster;
  ModelShape m;
  layers::BlockConfig cfg;
  try {
    cluster = o.profile.empty() ? preset_cluster(o.preset, o.nodes) : load_profile(o.profile);
    ODY_REQUIRE(o.gpu_mem_gb >= 0, "--gpu-mem", "a positive size in GB", o.gpu_mem_gb);
    if (o.gpu_mem_gb > 0) cluster.device.memory_bytes = o.gpu_mem_gb * 1e9;
    if (!o.model.empty())
      m = model_preset(o.model);
    else {
      ODY_REQUIRE(o.hidden > 0 && o.heads > 0 && o.kv_heads > 0 && o.ffn > 0 && o.layers > 0,
                  "model",
                  "--model NAME or positive --hidden, --heads, --kv-heads, --ffn, --layers",
                  "d=", o.hidden, " H=", o.heads, " G=", o.kv_heads, " i=", o.ffn, " n=", o.layers);
      m = {"custom", o.hidden, o.heads, o.kv_heads, o.ffn, o.layers};
    }
    cfg = layers::BlockConfig{o.batch, parse_size(o.seq_len, "--seq-len"), m.d, m.H, m.G, m.ffn,
                              o.causal};
    cfg.precision = layers::parse_precision(o.dtype, "--dtype");  // bf16: a GPU cluster's wire
    cfg.validate();
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  std::vector<std::string> names = strategies::strategy_names();
  if (o.strategy != "all") {
    if (std::find(names.begin(), names.end(), o.strategy) == names.end())
      throw UsageError("--strategy: expected one of the strategies or all, found '" + o.strategy +
                       "'");
    names = {o.strategy};
  }
  const auto t0 = std::chrono::steady_clock::now();
  const Ranking r = rank_layouts(cluster, cfg, m.layers, names);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (o.json) {
    nlohmann::json j;
    j["cluster"] = {{"preset", o.profile.empty() ? o.preset : o.profile},
                    {"nodes", cluster.nodes},
                    {"gpus", cluster.world()}};
    j["model"] = {{"name", m.name},   {"d", m.d},       {"H", m.H},
                  {"G", m.G},         {"i", m.ffn},     {"layers", m.layers},
                  {"seq_len", cfg.L}, {"batch", cfg.B}, {"causal", cfg.causal}};
    j["counted"] =
        "decoder blocks only (no embeddings, LM head, optimizer); causal attention "
        "counted as half of L^2 in MFU; memory: layers x cost().peak_bytes, fp32 storage";
    j["plans"] = nlohmann::json::array();
    for (const auto& p : r.plans)
      j["plans"].push_back({{"strategy", p.strategy},
                            {"mesh", p.mesh},
                            {"step_s", p.step_s},
                            {"fwd_s", p.fwd_s},
                            {"bwd_s", p.bwd_s},
                            {"exposed_comm_s", p.exposed_comm_s},
                            {"tokens_per_s", p.tokens_per_s},
                            {"mfu", p.mfu},
                            {"peak_mem_bytes", p.peak_mem_bytes},
                            {"oom", p.oom},
                            {"comm_bytes", p.comm_bytes},
                            {"spans_nodes", p.spans_nodes}});
    j["invalid"] = nlohmann::json::array();
    for (const auto& v : r.invalid)
      j["invalid"].push_back({{"strategy", v.strategy}, {"mesh", v.mesh}, {"rule", v.rule}});
    j["planner_ms"] = ms;
    std::printf("%s\n", j.dump(1).c_str());
    return 0;
  }
  std::printf(
      "# ody-plan: %s x %d (%d GPUs, %s), %s: d=%lld H=%lld G=%lld i=%lld, %lld layers, "
      "L=%lld, B=%lld, %s\n",
      o.preset.c_str(), o.nodes, cluster.world(), cluster.device.name.c_str(), m.name.c_str(),
      (long long)m.d, (long long)m.H, (long long)m.G, (long long)m.ffn, (long long)m.layers,
      (long long)cfg.L, (long long)cfg.B, cfg.causal ? "causal" : "non-causal");
  std::printf(
      "# counted: decoder blocks only; MFU with causal attention as half of L^2; memory "
      "= layers x the strategy's per-block peak, fp32 storage (an upper bound)\n");
  std::printf("# %zu layouts predicted, %zu invalid, in %.1f ms\n\n", r.plans.size(),
              r.invalid.size(), ms);
  std::printf("%-4s %-13s %-18s %10s %10s %10s %12s %12s %6s %10s %4s\n", "rank", "strategy",
              "mesh", "step(ms)", "fwd(ms)", "bwd(ms)", "exposed(ms)", "tokens/s", "MFU", "mem(GB)",
              "OOM");
  int k = 0;
  for (const auto& p : r.plans)
    std::printf("%-4d %-13s %-18s %10.1f %10.1f %10.1f %12.1f %12.0f %6.3f %10.1f %4s\n", ++k,
                p.strategy.c_str(), p.mesh.c_str(), p.step_s * 1e3, p.fwd_s * 1e3, p.bwd_s * 1e3,
                p.exposed_comm_s * 1e3, p.tokens_per_s, p.mfu, p.peak_mem_bytes / 1e9,
                p.oom ? "yes" : "");
  if (!r.invalid.empty()) std::printf("\n");
  for (const auto& v : r.invalid)
    std::printf("# invalid %s %s: %s\n", v.strategy.c_str(), v.mesh.c_str(), v.rule.c_str());
  return 0;
}

}  // namespace
}  // namespace ody::experiments::plan

int main(int argc, char** argv) {
  return ody::experiments::tool_main("ody-plan", argc, argv, ody::experiments::plan::run);
}
