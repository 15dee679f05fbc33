#pragma once
// What ody-bench prints and records: the '#' header lines and the JSON header, one table
// row and one JSON result per strategy (with its pass/fail verdict), and the table of
// bytes sent per operation kind.
#include <string>
#include <vector>

#include "experiments/bench/measure.hpp"
#include "experiments/bench/nodes.hpp"

namespace ody::experiments::bench {

struct Setting {  // what the header describes besides the options
  const layers::BlockConfig& cfg;
  int node_count;
  const Reference& ref;
  Placed placed;  // placement lines and every dimension's backend (nodes.hpp)
};

void write_json_header(const Options& o, const Setting& st, Session& s);
// Rank 0: the '#' lines, the skipped strategies and the table's column heads.
void print_header(const Options& o, const Setting& st, const Plan& plan, const Session& s);
// One row (rank 0) and one JSON result; returns whether the strategy matched the
// single-rank block (when checked) and its own cost formula on every rank.
bool report(const Result& r, const Options& o, const Setting& st, Session& s);
// Rank 0: MB sent per rank and iteration by operation kind.
void print_bytes_table(const std::vector<Result>& results, const Session& s);

}  // namespace ody::experiments::bench
