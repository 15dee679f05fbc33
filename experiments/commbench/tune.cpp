#include "experiments/commbench/tune.hpp"

#include <cstdio>

#include "backends/tuning.hpp"

namespace ody::experiments::commbench {

void run_tune(const std::vector<std::unique_ptr<Collective>>& ops, const Sweep& sw, Session& s,
              const std::string& file) {
  comm::Communicator& c = *sw.comm;
  const int p = s.size(), iters = s.flags().iters, warmup = s.flags().warmup;
  const std::size_t es = comm::dtype_size(sw.dtype);
  comm::AlgoTable table;
  for (const auto& coll : ops) {
    const auto algos = c.algorithms(coll->kind());
    if (algos.size() < 2) continue;
    std::vector<comm::AlgoRule> rules;
    std::string line;
    for (double sz = static_cast<double>(sw.min_bytes);
         sz <= static_cast<double>(sw.max_bytes) * (1 + 1e-9); sz *= sw.factor) {
      const std::int64_t count = coll->full_count(static_cast<std::int64_t>(sz), es, p);
      if (count < 1) continue;
      const std::int64_t bytes = count * static_cast<std::int64_t>(es);
      coll->prepare(count, sw.dtype, sw.op, s.rank(), p);
      std::vector<std::vector<double>> t(algos.size(), std::vector<double>(iters));
      for (std::size_t a = 0; a < algos.size(); ++a) {
        c.force_algorithms({algos[a]});
        for (int i = 0; i < warmup; ++i) coll->run_ours(c);
      }
      for (int i = 0; i < iters; ++i)  // alternating, so drifts of the machine hit all alike
        for (std::size_t a = 0; a < algos.size(); ++a) {
          c.force_algorithms({algos[a]});
          t[a][i] = timed(s.raw(), [&] { coll->run_ours(c); });
        }
      std::size_t best = 0;
      double best_t = 0;
      for (std::size_t a = 0; a < algos.size(); ++a) {
        const double m = s.slowest_median(t[a]);
        if (a == 0 || m < best_t) best = a, best_t = m;
      }
      if (!rules.empty() && rules.back().algo == algos[best])
        rules.back().max_bytes = bytes;
      else
        rules.push_back({bytes, algos[best]});
      line += " " + std::to_string(bytes) + ":" + algos[best];
    }
    c.force_algorithms({});
    if (rules.empty()) continue;
    rules.back().max_bytes = comm::kAnySize;
    if (s.rank() == 0) std::printf("# tune %s:%s\n", coll->name().c_str(), line.c_str());
    table.set(coll->kind(), std::move(rules));
  }
  if (s.rank() == 0) backends::save_algorithm_table(file, table, c);
  c.set_algorithm_table(std::move(table));
  if (s.rank() == 0) std::printf("# tune: table written to %s\n", file.c_str());
}

}  // namespace ody::experiments::commbench
