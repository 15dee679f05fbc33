#pragma once
// ody-bench's command line, and its translation into a block shape and, per strategy,
// the strategy options (mesh, weights, layout). Everything here is decided identically on
// every rank before any communication, so bad input is a UsageError (one line, exit 2).
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "experiments/common/harness.hpp"
#include "layers/block.hpp"
#include "strategies/factory.hpp"

namespace ody::experiments::bench {

struct Options {
  std::string strategy = "all";
  std::string seq_len = "2K", hidden = "512", ffn = "1408";
  std::int64_t heads = 8, kv_heads = 8, batch = 1;
  bool causal = true;
  std::string dtype = "f32", trace;
  std::string host_memory = "retain";
  std::string mesh, weights, layout;
  std::string doc_lens;  // --doc-lens: empty = one document
  int virtual_nodes = 0;
  std::string placement = "auto";  // auto: topology placement of the hybrids; none: launch order
  RunFlags run{3, 1, "", "auto"};  // -n, -w, --json, --backend (experiments/common/harness.hpp)
  bool check = true, baseline = false;
  std::uint64_t seed = 1234;
  std::string load, dump;
};

void add_flags(CLI::App& app, Options& o);

// One strategy to run, with its options; `skip` says why --strategy all leaves it out
// (an option it does not accept), empty when it runs.
struct Planned {
  std::string name;
  strategies::StrategyOptions options;
  std::string skip;
};

struct Plan {
  layers::BlockConfig cfg;  // cfg.doc_starts from --doc-lens
  std::vector<Planned> runs;
};

// Throws UsageError naming the flag and the rule. With --load, B, L, d, G and i come from
// the files (H and causal from the flags).
Plan make_plan(const Options& o, int world_size);

}  // namespace ody::experiments::bench
