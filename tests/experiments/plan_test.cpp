// The cost model and planner (experiments/plan): the traffic and memory it prices are the
// strategies' own cost() to the byte; every invalid mesh is kept with the factory's rule; it
// knows what placement is worth (an all-to-all across nodes costs more than inside one); a
// prediction that cannot be right is an error; and a golden ranking on a small preset.
#include <gtest/gtest.h>

#include <algorithm>

#include "base/error.hpp"
#include "experiments/plan/calibrate.hpp"
#include "experiments/plan/planner.hpp"

namespace ody::experiments::plan {
namespace {

layers::BlockConfig block(std::int64_t L) {
  layers::BlockConfig c{1, L, 1024, 8, 8, 2816, true};
  c.precision = layers::Precision::bf16;
  return c;
}

TEST(Plan, TrafficAndMemoryAreTheStrategiesOwn) {
  const Cluster cl = preset_cluster("dgx-a100", 2);
  const auto cfg = block(32768);
  const Ranking r = rank_layouts(cl, cfg, 4, strategies::strategy_names());
  ASSERT_FALSE(r.plans.empty());
  for (const auto& p : r.plans) {
    strategies::StrategyOptions o;
    o.mesh = strategies::default_mesh(p.strategy, cfg, cl.world());
    if (o.mesh.size() == 1) o.mesh.clear();
    // The mesh the plan names, back to options.
    for (auto& d : o.mesh)
      d.size = std::stoi(p.mesh.substr(p.mesh.find(d.name + "=") + d.name.size() + 1));
    const auto c = strategies::strategy_cost(p.strategy, cfg, cl.world(), 0, o);
    EXPECT_EQ(p.comm_bytes,
              4.0 * double(c.forward.total().bytes_sent + c.backward.total().bytes_sent))
        << p.strategy << " " << p.mesh;
    EXPECT_EQ(p.peak_mem_bytes, 4.0 * double(c.peak_bytes)) << p.strategy << " " << p.mesh;
    EXPECT_GT(p.mfu, 0.0);
    EXPECT_LE(p.mfu, 1.0);
  }
}

TEST(Plan, InvalidMeshesKeepTheRule) {
  const Cluster cl = preset_cluster("dgx-a100", 2);  // 16 GPUs; H = 8 cannot shard 16 ways
  const Ranking r = rank_layouts(cl, block(32768), 1, {"ulysses", "usp"});
  auto find = [&](const std::string& s, const std::string& mesh) {
    return std::find_if(r.invalid.begin(), r.invalid.end(),
                        [&](const Invalid& v) { return v.strategy == s && v.mesh == mesh; });
  };
  const auto u = find("ulysses", "ulysses=16");
  ASSERT_NE(u, r.invalid.end());
  EXPECT_NE(u->rule.find("H % N == 0"), std::string::npos) << u->rule;
  ASSERT_NE(find("usp", "ulysses=16,ring=1"), r.invalid.end());
  // usp with ulysses inside a node is valid and ranked.
  EXPECT_TRUE(std::any_of(r.plans.begin(), r.plans.end(),
                          [](const Prediction& p) { return p.mesh == "ulysses=8,ring=2"; }));
}

// Placement: USP's all-to-all inside the nodes (ulysses=8) and its ring across them beats
// the all-to-all across nodes (ulysses=2 strides 1, but ring=8 with stride 2 crosses; and
// odysseus-ring's tp=16 does not fit). Inter-node all-to-all is capped near one NIC per GPU.
TEST(Plan, AllToAllAcrossNodesCostsMore) {
  Cluster cl = preset_cluster("dgx-a100", 2);
  const auto cfg = block(65536);
  strategies::StrategyOptions inside, across;
  inside.mesh = {{"ulysses", 8}, {"ring", 2}};
  const Prediction a = predict(cl, cfg, 1, "usp", inside);
  EXPECT_FALSE(a.spans_nodes.at("ulysses"));
  EXPECT_TRUE(a.spans_nodes.at("ring"));
  // The same mesh with every link slowed to the inter-node one: only ulysses's share grows.
  Cluster flat = cl;
  flat.intra = flat.inter;
  const Prediction b = predict(flat, cfg, 1, "usp", inside);
  EXPECT_GT(b.exposed_comm_s, a.exposed_comm_s);
  across.mesh = {{"ulysses", 4}, {"ring", 4}};
  cl.gpus_per_node = 2;  // now ulysses=4 spans nodes
  cl.nodes = 8;
  const Prediction c = predict(cl, cfg, 1, "usp", across);
  EXPECT_TRUE(c.spans_nodes.at("ulysses"));
}

TEST(Plan, ImpossiblePredictionsAreErrors) {
  Cluster cl = preset_cluster("dgx-h100", 1);
  cl.device.gemm_eff = cl.device.attn_fwd_eff = cl.device.attn_bwd_eff = 50;  // above peak
  cl.intra = {1e18, 1e18, 1e18, 0};                                           // free links
  EXPECT_THROW(predict(cl, block(16384), 1, "ring", {}), Error);
  EXPECT_THROW(preset_cluster("dgx-z100", 1), Error);
  EXPECT_THROW(preset_cluster("dgx-a100", 0), Error);
  EXPECT_THROW(model_preset("llama9"), Error);
  EXPECT_THROW(predict(preset_cluster("dgx-a100", 1), block(16384), 0, "ring", {}), Error);
}

// A profile (ody-plan --calibrate's file) round-trips, and a broken one names the field.
TEST(Plan, ProfileRoundTripAndErrors) {
  const Cluster a = preset_cluster("dgx-h100", 3);
  const Cluster b = profile_from_json(profile_to_json(a), "test");
  EXPECT_EQ(b.world(), a.world());
  EXPECT_EQ(b.device.peak_flops, a.device.peak_flops);
  EXPECT_EQ(b.inter.alltoall_Bps, a.inter.alltoall_Bps);
  auto j = profile_to_json(a);
  j["intra"].erase("p2p_Bps");
  try {
    profile_from_json(j, "profile x.json");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("profile x.json: p2p_Bps: expected a number, found none"),
              std::string::npos)
        << e.what();
  }
  j = profile_to_json(a);
  j["format"] = "odysseus-profile-0";
  EXPECT_THROW(profile_from_json(j, "p"), Error);  // another version
  j = profile_to_json(a);
  j["device"]["peak_flops"] = -1;
  EXPECT_THROW(profile_from_json(j, "p"), Error);
}

// Golden: a small preset's ranking, as the model stands (a change to the model shows here).
TEST(Plan, GoldenRankingOneA100Node) {
  const Ranking r =
      rank_layouts(preset_cluster("dgx-a100", 1), block(16384), 8, strategies::strategy_names());
  std::vector<std::string> order;
  for (const auto& p : r.plans) order.push_back(p.strategy + " " + p.mesh);
  // Ties (equal predictions) keep the catalog's order.
  const std::vector<std::string> golden = {"ring ring=8",
                                           "usp ulysses=1,ring=8",
                                           "double-ring inner=1,outer=8",
                                           "double-ring inner=2,outer=4",
                                           "double-ring inner=4,outer=2",
                                           "double-ring inner=8,outer=1",
                                           "usp ulysses=2,ring=4",
                                           "usp ulysses=4,ring=2",
                                           "token-ring ring=8",
                                           "ulysses ulysses=8",
                                           "usp ulysses=8,ring=1",
                                           "odysseus-ring tp=2,ring=4",
                                           "odysseus-ring tp=1,ring=8",
                                           "odysseus-ring tp=4,ring=2",
                                           "odysseus tp=8",
                                           "odysseus-ring tp=8,ring=1",
                                           "tpsp tp=8",
                                           "allgather-kv cp=8"};
  EXPECT_EQ(order, golden);
}

}  // namespace
}  // namespace ody::experiments::plan
