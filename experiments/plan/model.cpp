#include "experiments/plan/model.hpp"

#include <algorithm>

#include "base/error.hpp"

namespace ody::experiments::plan {

ModelShape model_preset(const std::string& name) {
  if (name == "llama2-7b") return {name, 4096, 32, 32, 11008, 32};
  if (name == "llama3-8b") return {name, 4096, 32, 8, 14336, 32};
  if (name == "llama3-70b") return {name, 8192, 64, 8, 28672, 80};
  throw Error("--model", "one of llama2-7b, llama3-8b, llama3-70b", "'" + name + "'");
}

namespace {

struct PassTime {
  double hops = 0, other = 0;  // ring hops (overlappable), every other collective
};

// One communicator's share of a pass on its link.
void add_part(PassTime& t, const comm::TrafficSnapshot& s, int p, const Link& link) {
  for (int k = 0; k < comm::kNumOpKinds; ++k) {
    const auto kind = static_cast<comm::OpKind>(k);
    const auto& e = s[kind];
    if (e.ops == 0) continue;
    const double bytes = double(e.bytes_sent), ops = double(e.ops);
    switch (kind) {
      case comm::OpKind::send:
        t.hops += ops * link.step_latency_s + bytes / link.p2p_Bps;
        break;
      case comm::OpKind::recv:  // the other direction of the same hops (full duplex)
        break;
      case comm::OpKind::alltoall:
        t.other += ops * (p - 1) * link.step_latency_s + bytes / link.alltoall_Bps;
        break;
      case comm::OpKind::allreduce:
        t.other += ops * 2 * (p - 1) * link.step_latency_s + bytes / link.collective_Bps;
        break;
      default:  // all-gather, reduce-scatter and the rest: ring steps
        t.other += ops * (p - 1) * link.step_latency_s + bytes / link.collective_Bps;
        break;
    }
  }
}

}  // namespace

Prediction predict(const Cluster& cluster, const layers::BlockConfig& cfg, std::int64_t layers,
                   const std::string& strategy, const strategies::StrategyOptions& options) {
  const int n = cluster.world();
  ODY_REQUIRE(layers >= 1, "--layers", "at least 1", layers);
  strategies::check_strategy(strategy, cfg, n, options);
  const strategies::Cost cost = strategies::strategy_cost(strategy, cfg, n, 0, options);
  const auto mesh = strategies::default_mesh(strategy, cfg, n, options);
  Prediction out;
  out.strategy = strategy;
  out.mesh = strategies::describe_mesh(strategy, cfg, n, options);
  // Each communicator's group: size, and whether it spans nodes (node-major, inner first).
  std::map<std::string, std::pair<int, bool>> groups;
  int stride = 1;
  for (const auto& d : mesh) {
    groups[d.name] = {d.size, d.size > 1 && stride * d.size > cluster.gpus_per_node};
    stride *= d.size;
  }
  groups["world"] = {n, n > cluster.gpus_per_node};
  Link inter = cluster.inter;  // a rank never sends faster across nodes than inside one
  inter.collective_Bps = std::min(inter.collective_Bps, cluster.intra.collective_Bps);
  PassTime fwd, bwd;
  auto price = [&](const std::string& group, const strategies::Cost::Part& part) {
    const auto [p, spans] = groups.at(group);
    out.spans_nodes[group] = spans;
    const Link& link = spans ? inter : cluster.intra;
    add_part(fwd, part.forward, p, link);
    add_part(bwd, part.backward, p, link);
  };
  if (cost.by_dim.empty())
    price(mesh.front().name, {cost.forward, cost.backward});
  else
    for (const auto& [group, part] : cost.by_dim) price(group, part);
  // Compute per rank, balanced over the N ranks.
  const Device& dev = cluster.device;
  const double T = double(cfg.tokens()), d = double(cfg.d), Dh = double(cfg.head_dim()),
               H = double(cfg.H), G = double(cfg.G), i = double(cfg.ffn), L = double(cfg.L);
  const double gemm = 2 * T * (d * H * Dh + 2 * d * G * Dh + H * Dh * d + 3 * d * i);
  const double pairs = double(cfg.B) * H * (cfg.causal ? L * (L + 1) / 2 : L * L);
  const double attn_f = 4 * Dh * pairs, attn_b = 2.5 * attn_f;
  const double attn_fwd_s = attn_f / n / (dev.peak_flops * dev.attn_fwd_eff),
               attn_bwd_s = attn_b / n / (dev.peak_flops * dev.attn_bwd_eff);
  const double gemm_s = gemm / n / (dev.peak_flops * dev.gemm_eff);
  const double exposed_f = fwd.other + std::max(0.0, fwd.hops - attn_fwd_s),
               exposed_b = bwd.other + std::max(0.0, bwd.hops - attn_bwd_s);
  const double Ln = double(layers);
  out.fwd_s = Ln * (gemm_s + attn_fwd_s + exposed_f);
  out.bwd_s = Ln * (2 * gemm_s + attn_bwd_s + exposed_b);
  out.exposed_comm_s = Ln * (exposed_f + exposed_b);
  out.step_s = out.fwd_s + out.bwd_s;
  out.tokens_per_s = T / out.step_s;
  out.mfu = Ln * (3 * gemm + attn_f + attn_b) / n / out.step_s / dev.peak_flops;
  out.comm_bytes = Ln * double(cost.forward.total().bytes_sent + cost.backward.total().bytes_sent);
  out.peak_mem_bytes = Ln * double(cost.peak_bytes);
  out.oom = out.peak_mem_bytes > dev.memory_bytes;
  ODY_REQUIRE(out.mfu <= 1.0, "cost model (" + strategy + " " + out.mesh + ")",
              "an MFU at most 1 (a prediction above the device's peak is wrong)", out.mfu);
  ODY_REQUIRE(n == 1 || out.comm_bytes > 0, "cost model (" + strategy + " " + out.mesh + ")",
              "communication on a multi-rank layout", "none");
  return out;
}

}  // namespace ody::experiments::plan
