#include "strategies/work.hpp"

#include <algorithm>

#include "layers/documents.hpp"

namespace ody::strategies {

std::uint64_t visible_pairs(const layers::BlockConfig& c, std::span<const std::int64_t> rows) {
  const auto& ds = c.doc_starts;
  std::uint64_t n = 0;
  for (std::int64_t p : rows) {
    const auto next = std::upper_bound(ds.begin(), ds.end(), p);
    const std::int64_t start = next == ds.begin() ? 0 : *(next - 1),
                       end = next == ds.end() ? c.L : *next;
    n += std::uint64_t(c.causal ? p - start + 1 : end - start);
  }
  return n;
}

double imbalance(std::span<const std::uint64_t> per_rank) {
  if (per_rank.empty()) return 1;
  double sum = 0, mx = 0;
  for (auto w : per_rank) {
    sum += double(w);
    mx = std::max(mx, double(w));
  }
  return sum > 0 ? mx / (sum / double(per_rank.size())) : 1;
}

}  // namespace ody::strategies
