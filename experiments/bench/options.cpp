#include "experiments/bench/options.hpp"

#include <algorithm>
#include <filesystem>

#include "base/error.hpp"
#include "experiments/common/tool.hpp"
#include "layers/block_io.hpp"
#include "layers/documents.hpp"
#include "topology/placement.hpp"

namespace ody::experiments::bench {

void add_flags(CLI::App& app, Options& o) {
  std::string names;
  for (const auto& n : strategies::strategy_names()) names += n + ", ";
  app.add_option("--strategy", o.strategy, names + "a comma-separated list of them, or all");
  app.add_option("--seq-len", o.seq_len, "global sequence length L (K/M suffixes)");
  app.add_option("--hidden", o.hidden, "hidden size d");
  app.add_option("--heads", o.heads, "query heads H");
  app.add_option("--kv-heads", o.kv_heads, "key/value heads G (H % G == 0)");
  app.add_option("--ffn", o.ffn, "MLP intermediate size i");
  app.add_option("--batch", o.batch, "batch B");
  app.add_flag("--causal,!--no-causal", o.causal, "causal mask (default) or none");
  app.add_option(
      "--dtype", o.dtype,
      "f32, or bf16: bf16 weights/activations (and wire), fp32 accumulation and weight gradients");
  app.add_option("--mesh", o.mesh,
                 "hybrid mesh, inner first: ulysses=U,ring=R (usp) or tp=T,ring=R (odysseus-ring)");
  app.add_option("--weights", o.weights,
                 "replicated, zero3, zero3-mlp or tp (default: each strategy's own)");
  app.add_option("--layout", o.layout,
                 "zigzag, contiguous, stripe or per-doc (default: zigzag for rings when causal)");
  app.add_option("--doc-lens", o.doc_lens,
                 "packed sequence: document lengths a,b,c (summing to L) or "
                 "random:SEED[:MEAN[:MULTIPLE]] (a long-tail draw, printed); default one document");
  app.add_option("--virtual-nodes", o.virtual_nodes,
                 "pretend the ranks form K nodes (contiguous blocks) for placement and "
                 "hierarchical collectives");
  app.add_option("--placement", o.placement,
                 "auto (the hybrids' inner dimension inside nodes, topology/placement.hpp; "
                 "default) or none (ranks in launch order: to measure what placement is worth)");
  app.add_option(
      "--host-memory", o.host_memory,
      "retain (freed buffers stay in the heap, default) or release (the C library's allocator as "
      "configured: glibc defaults or your MALLOC_* settings); layers/host_memory.hpp");
  add_run_flags(app, o.run);
  app.add_flag("--check,!--no-check", o.check,
               "compare with the single-rank block on rank 0 (default on)");
  app.add_flag("--baseline", o.baseline,
               "time the single-rank block on rank 0 even without --check");
  app.add_option("--seed", o.seed, "seed of weights and inputs");
  app.add_option("--trace", o.trace,
                 "write a Chrome/Perfetto trace of the timed iterations to this file");
  app.add_option("--load", o.load,
                 "read x, dy and the weights from DIR/*.npy (full shapes) instead of seeding");
  app.add_option("--dump", o.dump,
                 "write inputs, y, dx and every weight gradient (full shapes) under DIR");
}

namespace {

strategies::WeightMode parse_weights(const std::string& s) {
  using strategies::WeightMode;
  if (s == "replicated") return WeightMode::replicated;
  if (s == "zero3") return WeightMode::zero3;
  if (s == "zero3-mlp") return WeightMode::zero3_mlp;
  if (s == "tp") return WeightMode::tensor_parallel;
  throw UsageError("--weights: expected one of replicated, zero3, zero3-mlp, tp, found '" + s +
                   "'");
}

strategies::TokenLayout parse_layout(const std::string& s) {
  using strategies::TokenLayout;
  if (s == "zigzag") return TokenLayout::zigzag;
  if (s == "contiguous") return TokenLayout::contiguous;
  if (s == "stripe") return TokenLayout::stripe;
  if (s == "per-doc") return TokenLayout::per_doc;
  throw UsageError("--layout: expected one of zigzag, contiguous, stripe, per-doc, found '" + s +
                   "'");
}

// Whether `mesh` names the dimensions of strategy `name`'s own mesh (inner first).
bool mesh_fits(const std::string& name, const std::vector<strategies::MeshDim>& mesh,
               const layers::BlockConfig& cfg, int n) {
  const auto own = strategies::default_mesh(name, cfg, n);
  if (own.size() != mesh.size() || own.size() < 2) return false;
  for (std::size_t k = 0; k < own.size(); ++k)
    if (own[k].name != mesh[k].name) return false;
  return true;
}

}  // namespace

Plan make_plan(const Options& o, int world_size) {
  Plan plan;
  layers::BlockConfig& cfg = plan.cfg;
  if (o.dtype != "f32" && o.dtype != "bf16")
    throw UsageError("--dtype: expected f32 or bf16, found '" + o.dtype + "'");
  if (o.host_memory != "retain" && o.host_memory != "release")
    throw UsageError("--host-memory: expected retain or release, found '" + o.host_memory + "'");
  if (o.placement != "auto" && o.placement != "none")
    throw UsageError("--placement: expected auto or none, found '" + o.placement + "'");
  check_run_flags(o.run);
  if (o.virtual_nodes < 0 || (o.virtual_nodes > 0 && world_size % o.virtual_nodes != 0))
    throw UsageError("--virtual-nodes: expected K >= 1 dividing the world size " +
                     std::to_string(world_size) + ", found " + std::to_string(o.virtual_nodes));
  try {
    if (!o.load.empty()) {
      if (!std::filesystem::is_directory(o.load))
        throw UsageError("--load: expected a directory of .npy files, found '" + o.load + "'");
      cfg = layers::infer_block_config(o.load, o.heads, o.causal);
    } else {
      cfg.B = o.batch;
      cfg.L = parse_size(o.seq_len, "--seq-len");
      cfg.d = parse_size(o.hidden, "--hidden");
      cfg.H = o.heads;
      cfg.G = o.kv_heads;
      cfg.ffn = parse_size(o.ffn, "--ffn");
      cfg.causal = o.causal;
    }
    cfg.precision = layers::parse_precision(o.dtype, "--dtype");
    if (!o.doc_lens.empty()) {
      cfg.doc_starts = layers::doc_starts_of(layers::parse_doc_lens(o.doc_lens, cfg.L));
    }
    cfg.validate();
  } catch (const ody::Error& e) {
    throw UsageError(e.what());
  }

  strategies::StrategyOptions common;
  if (!o.weights.empty()) common.weights = parse_weights(o.weights);
  if (!o.layout.empty()) common.layout = parse_layout(o.layout);
  std::vector<strategies::MeshDim> mesh;
  if (!o.mesh.empty()) {
    try {
      for (const auto& d : topology::parse_mesh(o.mesh)) mesh.push_back({d.name, d.size});
    } catch (const ody::Error& e) {
      throw UsageError(e.what());
    }
  }

  const bool all = o.strategy == "all";
  std::vector<std::string> names;
  if (all) names = strategies::strategy_names();
  const auto known = strategies::strategy_names();
  for (std::size_t at = 0; !all && at <= o.strategy.size();) {
    const std::size_t comma = std::min(o.strategy.find(',', at), o.strategy.size());
    const std::string name = o.strategy.substr(at, comma - at);
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string list;
      for (const auto& n : known) list += (list.empty() ? "" : ", ") + n;
      throw UsageError("--strategy: expected one of " + list +
                       ", a comma-separated list of them, or all, found '" + name + "'");
    }
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    at = comma + 1;
  }
  const bool many = names.size() > 1;
  for (const auto& name : names) {
    Planned p{name, common, {}};
    // --mesh describes a hybrid's two dimensions; with several strategies it applies to the
    // hybrid whose dimension names it uses, and the one-dimensional strategies span N.
    if (!mesh.empty() && (!many || mesh_fits(name, mesh, cfg, world_size))) p.options.mesh = mesh;
    try {
      strategies::check_strategy(name, cfg, world_size, p.options);
    } catch (const ody::Error& e) {
      if (!many) throw UsageError(e.what());
      p.skip = e.what();
    }
    plan.runs.push_back(std::move(p));
  }
  // With several strategies, a --mesh that is no hybrid's would be silently unused.
  if (!mesh.empty() && many &&
      std::none_of(plan.runs.begin(), plan.runs.end(),
                   [](const Planned& p) { return !p.options.mesh.empty(); })) {
    std::string forms;
    for (const auto& name : names) {
      const auto own = strategies::default_mesh(name, cfg, world_size);
      if (own.size() < 2) continue;
      forms += (forms.empty() ? "" : ", ") + name + ": " + own[0].name + "=I," + own[1].name + "=R";
    }
    throw UsageError("--mesh: expected the dimensions of a hybrid being run (" +
                     (forms.empty() ? std::string("none is") : forms) + "), found " + o.mesh);
  }
  bool any = false;
  for (const auto& p : plan.runs) any = any || p.skip.empty();
  if (!any)
    throw UsageError("--strategy " + o.strategy +
                     ": no strategy accepts these options: " + plan.runs.front().skip);
  return plan;
}

}  // namespace ody::experiments::bench
