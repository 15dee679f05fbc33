#include "experiments/plan/calibrate.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <vector>

#include "base/error.hpp"
#include "kernels/attention.hpp"
#include "layers/linear.hpp"

namespace ody::experiments::plan {

namespace {
using Clock = std::chrono::steady_clock;

// Median seconds of `reps` runs of fn, every rank starting together.
template <class F>
double timed(comm::Communicator& world, int reps, F&& fn) {
  std::vector<double> t;
  for (int k = 0; k < reps; ++k) {
    world.barrier();
    const auto t0 = Clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}
}  // namespace

Cluster calibrate(comm::Communicator& world) {
  Cluster c;
  c.name = "calibrated";
  c.nodes = 1;
  c.gpus_per_node = world.size();
  // sgemm at the MLP's shape of a d = 1024, i = 2816 block over 2048 tokens.
  const std::int64_t T = 2048, d = 1024, i = 2816;
  layers::Array2 x("x", T, d), w("w", i, d), y("y", T, i);
  Kokkos::deep_copy(x, 0.5f);
  Kokkos::deep_copy(w, 0.25f);
  const double gemm_s = timed(world, 5, [&] {
    layers::linear_forward(layers::Mat<float>(y), layers::Mat<const float>(x),
                           layers::Mat<const float>(w));
  });
  const double peak = 2.0 * T * d * i / gemm_s;
  // Attention at L = 4K, H = 8, Dh = 64, causal.
  const kernels::AttentionShape s{1, 4096, 4096, 8, 8, 64};
  std::vector<float> q(s.len_q * 8 * 64, 0.1f), k(q), v(q), o(q), dq(q), dk(q), dv(q),
      lse(8 * 4096);
  std::vector<std::int64_t> pos(4096);
  for (std::int64_t j = 0; j < 4096; ++j) pos[j] = j;
  kernels::AttentionOptions opt;
  opt.causal = true;
  const double fwd_s = timed(world, 3, [&] {
    kernels::attention_forward<float, float>(o.data(), lse.data(), q.data(), k.data(), v.data(),
                                             pos.data(), pos.data(), s, opt);
  });
  const double bwd_s = timed(world, 3, [&] {
    kernels::attention_backward<float, float>(dq.data(), dk.data(), dv.data(), o.data(), q.data(),
                                              k.data(), v.data(), o.data(), lse.data(), pos.data(),
                                              pos.data(), s, opt);
  });
  // Memory: the host's RAM shared by its ranks.
  const double ram = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGESIZE));
  c.device = {"this machine (one rank a core)",
              peak,
              1.0,
              kernels::attention_forward_flops(s, true) / fwd_s / peak,
              kernels::attention_backward_flops(s, true) / bwd_s / peak,
              ram / world.size()};
  // Collectives: bus bandwidth = bytes this rank sends / time, at 8 MiB a rank; step latency
  // at 8 bytes.
  const int p = world.size();
  Link l;
  if (p > 1) {
    auto busbw = [&](std::int64_t count, auto&& op) {
      world.reset_traffic();
      const double t = timed(world, 5, op);
      return double(world.traffic().total().bytes_sent) / 5 / t;
    };
    const std::int64_t n = (8 << 20) / 4 / p * p;
    std::vector<float> a(n, 1.f), b(n, 0.f);
    l.collective_Bps =
        busbw(n, [&] { world.all_gather(comm::cbuf(a.data(), n / p), comm::buf(b.data(), n)); });
    l.alltoall_Bps = busbw(n, [&] { world.all_to_all(comm::cbuf(a), comm::buf(b)); });
    const int peer = world.rank() ^ 1;
    l.p2p_Bps = busbw(n, [&] {
      if (peer >= p) return;
      const comm::P2POp ops[2] = {comm::P2POp::isend(comm::cbuf(a), peer, 7),
                                  comm::P2POp::irecv(comm::buf(b), peer, 7)};
      world.batch_p2p(ops);
    });
    float one = 1, got = 0;
    l.step_latency_s =
        timed(world, 20,
              [&] {
                world.all_reduce(comm::cbuf(&one, 1), comm::buf(&got, 1), comm::ReduceOp::sum);
              }) /
        (2.0 * (p - 1));
  } else {
    l = {1e18, 1e18, 1e18, 0};  // one rank: nothing to send
  }
  c.intra = c.inter = l;
  return c;
}

nlohmann::json profile_to_json(const Cluster& c) {
  auto link = [](const Link& l) {
    return nlohmann::json{{"collective_Bps", l.collective_Bps},
                          {"alltoall_Bps", l.alltoall_Bps},
                          {"p2p_Bps", l.p2p_Bps},
                          {"step_latency_s", l.step_latency_s}};
  };
  return {{"format", "odysseus-profile-1"},
          {"name", c.name},
          {"nodes", c.nodes},
          {"gpus_per_node", c.gpus_per_node},
          {"device",
           {{"name", c.device.name},
            {"peak_flops", c.device.peak_flops},
            {"gemm_eff", c.device.gemm_eff},
            {"attn_fwd_eff", c.device.attn_fwd_eff},
            {"attn_bwd_eff", c.device.attn_bwd_eff},
            {"memory_bytes", c.device.memory_bytes}}},
          {"intra", link(c.intra)},
          {"inter", link(c.inter)}};
}

Cluster profile_from_json(const nlohmann::json& j, const std::string& where) {
  auto num = [&](const nlohmann::json& o, const char* key, bool positive = true) {
    ODY_REQUIRE(o.is_object() && o.contains(key) && o[key].is_number(), where + ": " + key,
                "a number", o.is_object() && o.contains(key) ? o[key].dump() : "none");
    const double v = o[key].get<double>();
    ODY_REQUIRE(positive ? v > 0 : v >= 0, where + ": " + key, positive ? "> 0" : ">= 0", v);
    return v;
  };
  ODY_REQUIRE(j.is_object() && j.value("format", "") == "odysseus-profile-1", where + ": format",
              "odysseus-profile-1 (written by ody-plan --calibrate)",
              j.is_object() && j.contains("format") ? j["format"].dump() : "none");
  Cluster c;
  c.name = j.value("name", "profile");
  c.nodes = int(num(j, "nodes"));
  c.gpus_per_node = int(num(j, "gpus_per_node"));
  const auto& d = j["device"];
  c.device = {d.value("name", "device"), num(d, "peak_flops"),   num(d, "gemm_eff"),
              num(d, "attn_fwd_eff"),    num(d, "attn_bwd_eff"), num(d, "memory_bytes", false)};
  for (auto [key, link] : {std::pair{"intra", &c.intra}, std::pair{"inter", &c.inter}}) {
    ODY_REQUIRE(j.contains(key), where + ": " + key, "a link object", "none");
    const auto& l = j[key];
    *link = {num(l, "collective_Bps"), num(l, "alltoall_Bps"), num(l, "p2p_Bps"),
             num(l, "step_latency_s", false)};
  }
  return c;
}

Cluster load_profile(const std::string& path) {
  std::ifstream in(path);
  ODY_REQUIRE(bool(in), "--profile", "a readable profile file", "'" + path + "'");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception&) {
    throw Error("--profile", "JSON (odysseus-profile-1)", "'" + path + "' does not parse");
  }
  return profile_from_json(j, "profile " + path);
}

}  // namespace ody::experiments::plan
