// The Python module `odysseus` (pybind11): topology, each strategy's cost(), the cost model
// and the planner as plain Python objects (dicts and lists), for topology studies of
// clusters one does not have (docs/plan.md, README "A study in Python"). Every function
// takes and returns plain values; an ody::Error becomes a ValueError with the same line.
//
//   import odysseus as ody
//   ody.plan("dgx-h100", nodes=4, model="llama3-8b", seq_len=131072)["plans"][0]
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "experiments/plan/calibrate.hpp"
#include "experiments/plan/planner.hpp"
#include "experiments/topo/describe.hpp"
#include "layers/documents.hpp"
#include "topology/cluster.hpp"
#include "topology/hwloc_loader.hpp"
#include "topology/nccl_xml.hpp"
#include "topology/presets.hpp"

namespace py = pybind11;
using nlohmann::json;

namespace ody::python {
namespace {

// JSON -> Python (dicts, lists, numbers, strings), through the json module: exact and small.
py::object to_py(const json& j) { return py::module_::import("json").attr("loads")(j.dump()); }

std::vector<strategies::MeshDim> parse_mesh(const std::string& text) {
  std::vector<strategies::MeshDim> out;
  for (const auto& d : topology::parse_mesh(text)) out.push_back({d.name, d.size});
  return out;
}

layers::BlockConfig block(const py::dict& shape) {
  layers::BlockConfig c;
  for (const auto& [k, v] : shape) {
    const std::string key = py::str(k);
    if (key == "B")
      c.B = v.cast<std::int64_t>();
    else if (key == "L")
      c.L = v.cast<std::int64_t>();
    else if (key == "d")
      c.d = v.cast<std::int64_t>();
    else if (key == "H")
      c.H = v.cast<std::int64_t>();
    else if (key == "G")
      c.G = v.cast<std::int64_t>();
    else if (key == "i")
      c.ffn = v.cast<std::int64_t>();
    else if (key == "causal")
      c.causal = v.cast<bool>();
    else if (key == "dtype")
      c.precision = layers::parse_precision(v.cast<std::string>(), "shape.dtype");
    else if (key == "doc_lens")
      c.doc_starts = layers::doc_starts_of(v.cast<std::vector<std::int64_t>>());
    else
      throw Error("shape", "keys B, L, d, H, G, i, causal, dtype, doc_lens", "'" + key + "'");
  }
  c.validate();
  return c;
}

json traffic(const comm::TrafficSnapshot& s) {
  json j = json::object();
  for (int k = 0; k < comm::kNumOpKinds; ++k) {
    const auto kind = static_cast<comm::OpKind>(k);
    if (s[kind].ops == 0) continue;
    j[std::string(comm::to_string(kind))] = {{"ops", s[kind].ops},
                                             {"bytes_sent", s[kind].bytes_sent},
                                             {"bytes_recv", s[kind].bytes_recv}};
  }
  return j;
}

json prediction(const experiments::plan::Prediction& p) {
  return {{"strategy", p.strategy},
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
          {"spans_nodes", p.spans_nodes}};
}

layers::BlockConfig model_block(const std::string& model, const py::dict& shape, std::int64_t L,
                                std::int64_t& layers) {
  if (!model.empty()) {
    const auto m = experiments::plan::model_preset(model);
    layers = m.layers;
    layers::BlockConfig c{1, L, m.d, m.H, m.G, m.ffn, true};
    c.precision = layers::Precision::bf16;
    c.validate();
    return c;
  }
  py::dict s = shape;
  if (!s.contains("L")) s["L"] = L;
  if (!s.contains("dtype")) s["dtype"] = "bf16";
  return block(s);
}

}  // namespace
}  // namespace ody::python

PYBIND11_MODULE(odysseus, m) {
  using namespace ody;
  using namespace ody::python;
  m.doc() = "Odysseus: sequence-parallel strategies' traffic, memory, cost model and planner";
  py::register_exception<Error>(m, "Error", PyExc_ValueError);

  m.def("strategy_names", &strategies::strategy_names, "Every strategy the factory knows.");
  m.def(
      "strategy_cost",
      [](const std::string& name, const py::dict& shape, int n, int rank, const std::string& mesh,
         const std::string& layout) {
        strategies::StrategyOptions o;
        if (!mesh.empty()) o.mesh = parse_mesh(mesh);
        if (!layout.empty()) {
          for (auto l : {strategies::TokenLayout::contiguous, strategies::TokenLayout::zigzag,
                         strategies::TokenLayout::stripe, strategies::TokenLayout::per_doc})
            if (strategies::to_string(l) == layout) o.layout = l;
          if (!o.layout)
            throw Error("layout", "contiguous, zigzag, stripe or per-doc", "'" + layout + "'");
        }
        const layers::BlockConfig c = block(shape);
        const strategies::Cost cost = strategies::strategy_cost(name, c, n, rank, o);
        json j = {{"strategy", name},
                  {"mesh", strategies::describe_mesh(name, c, n, o)},
                  {"forward", traffic(cost.forward)},
                  {"backward", traffic(cost.backward)},
                  {"peak_bytes", cost.peak_bytes},
                  {"by_dim", json::object()}};
        for (const auto& [dim, part] : cost.by_dim)
          j["by_dim"][dim] = {{"forward", traffic(part.forward)},
                              {"backward", traffic(part.backward)}};
        return to_py(j);
      },
      py::arg("strategy"), py::arg("shape"), py::arg("n"), py::arg("rank") = 0,
      py::arg("mesh") = "", py::arg("layout") = "",
      "One rank's exact traffic per operation kind (forward, backward, and per communicator for\n"
      "the hybrids: by_dim) and its expected peak memory, from the strategy's own cost().\n"
      "shape: {B, L, d, H, G, i, causal, dtype ('f32'|'bf16'), doc_lens}; mesh "
      "'ulysses=2,ring=4'.");
  m.def("presets", &experiments::plan::preset_names, "The cost model's cluster presets.");
  m.def(
      "cluster",
      [](const std::string& preset, int nodes) {
        const auto c = experiments::plan::preset_cluster(preset, nodes);
        auto link = [](const experiments::plan::Link& l) {
          return json{{"collective_Bps", l.collective_Bps},
                      {"alltoall_Bps", l.alltoall_Bps},
                      {"p2p_Bps", l.p2p_Bps},
                      {"step_latency_s", l.step_latency_s}};
        };
        return to_py({{"name", c.name},
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
                      {"inter", link(c.inter)}});
      },
      py::arg("preset"), py::arg("nodes") = 1, "A preset's figures (device and links).");
  m.def(
      "predict",
      [](const std::string& preset, int nodes, const std::string& strategy, std::int64_t seq_len,
         const std::string& model, const py::dict& shape, std::int64_t layers,
         const std::string& mesh, const std::string& profile) {
        std::int64_t n_layers = layers;
        const auto c = model_block(model, shape, seq_len, n_layers);
        strategies::StrategyOptions o;
        if (!mesh.empty()) o.mesh = parse_mesh(mesh);
        const auto cluster = profile.empty() ? experiments::plan::preset_cluster(preset, nodes)
                                             : experiments::plan::load_profile(profile);
        return to_py(prediction(experiments::plan::predict(cluster, c, n_layers, strategy, o)));
      },
      py::arg("preset"), py::arg("nodes"), py::arg("strategy"), py::arg("seq_len"),
      py::arg("model") = "", py::arg("shape") = py::dict(), py::arg("layers") = 1,
      py::arg("mesh") = "", py::arg("profile") = "",
      "The cost model's prediction for one strategy and mesh (docs/plan.md): step, fwd, bwd,\n"
      "exposed communication (s), tokens/s, MFU, memory, OOM. model: 'llama3-8b' etc., or\n"
      "shape {d, H, G, i} with layers. profile: a file from ody-plan --calibrate instead of\n"
      "the preset (preset and nodes are then ignored).");
  m.def(
      "plan",
      [](const std::string& preset, int nodes, std::int64_t seq_len, const std::string& model,
         const py::dict& shape, std::int64_t layers, const std::vector<std::string>& only) {
        std::int64_t n_layers = layers;
        const auto c = model_block(model, shape, seq_len, n_layers);
        const auto r = experiments::plan::rank_layouts(
            experiments::plan::preset_cluster(preset, nodes), c, n_layers,
            only.empty() ? strategies::strategy_names() : only);
        json j = {{"plans", json::array()}, {"invalid", json::array()}};
        for (const auto& p : r.plans) j["plans"].push_back(prediction(p));
        for (const auto& v : r.invalid)
          j["invalid"].push_back({{"strategy", v.strategy}, {"mesh", v.mesh}, {"rule", v.rule}});
        return to_py(j);
      },
      py::arg("preset"), py::arg("nodes"), py::arg("seq_len"), py::arg("model") = "",
      py::arg("shape") = py::dict(), py::arg("layers") = 1,
      py::arg("strategies") = std::vector<std::string>{},
      "Every strategy and mesh ranked by predicted step time: {plans (best first), invalid\n"
      "(each with the factory's rule)}, the keys of ody-plan --json.");
  m.def(
      "topology",
      [](const std::string& preset, const std::string& hwloc_xml, const std::string& nccl_xml,
         const std::string& cluster_json, int nodes, int virtual_nodes, const std::string& mesh) {
        const int sources =
            !preset.empty() + !hwloc_xml.empty() + !nccl_xml.empty() + !cluster_json.empty();
        ODY_REQUIRE(sources == 1, "topology",
                    "exactly one of preset, hwloc_xml, nccl_xml, cluster_json", sources, " given");
        topology::Cluster c;
        if (!cluster_json.empty())
          c = topology::load_cluster_spec(cluster_json);
        else
          c = topology::uniform_cluster(!preset.empty()      ? topology::preset(preset)
                                        : !hwloc_xml.empty() ? topology::load_hwloc_xml(hwloc_xml)
                                                             : topology::load_nccl_topo(nccl_xml),
                                        nodes, 0);
        if (virtual_nodes > 0) c = topology::with_virtual_nodes(c, virtual_nodes);
        if (mesh.empty()) return to_py(experiments::topo::to_json_out(c, nullptr));
        const topology::Placement pl = topology::place_mesh(c, topology::parse_mesh(mesh));
        return to_py(experiments::topo::to_json_out(c, &pl));
      },
      py::arg("preset") = "", py::arg("hwloc_xml") = "", py::arg("nccl_xml") = "",
      py::arg("cluster_json") = "", py::arg("nodes") = 1, py::arg("virtual_nodes") = 0,
      py::arg("mesh") = "",
      "A machine or cluster as ody-topo --json describes it (nodes, devices, NICs, link\n"
      "classes, rank links, subgroups) and, with mesh, its placement.");
}
