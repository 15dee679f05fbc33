#include "strategies/layout.hpp"

#include <algorithm>
#include <string>

#include "base/error.hpp"

namespace ody::strategies {

std::string_view to_string(TokenLayout layout) {
  switch (layout) {
    case TokenLayout::contiguous:
      return "contiguous";
    case TokenLayout::zigzag:
      return "zigzag";
    case TokenLayout::stripe:
      return "stripe";
    case TokenLayout::per_doc:
      return "per-doc";
  }
  return "?";
}

std::int64_t layout_divisor(TokenLayout layout, int n) {
  return layout == TokenLayout::zigzag || layout == TokenLayout::per_doc ? 2 * std::int64_t(n)
                                                                         : std::int64_t(n);
}

namespace {
std::string nearest(std::int64_t value, std::int64_t m) {
  const std::int64_t lo = value / m * m, hi = lo + m;
  return lo > 0 ? std::to_string(lo) + " or " + std::to_string(hi) : std::to_string(hi);
}
}  // namespace

namespace {
// The documents of a per_doc layout: [start, end) each; no documents = one.
std::vector<std::pair<std::int64_t, std::int64_t>> documents(std::int64_t L,
                                                             std::span<const std::int64_t> docs) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  if (docs.empty()) return {{0, L}};
  for (std::size_t j = 0; j < docs.size(); ++j)
    out.push_back({docs[j], j + 1 < docs.size() ? docs[j + 1] : L});
  return out;
}
}  // namespace

void check_layout(TokenLayout layout, std::int64_t L, int n, const char* where,
                  std::span<const std::int64_t> docs) {
  ODY_REQUIRE(n >= 1, where, "a group size N >= 1", "N = ", n);
  const std::int64_t m = layout_divisor(layout, n);
  if (layout == TokenLayout::per_doc && !docs.empty()) {
    const auto d = documents(L, docs);
    for (std::size_t j = 0; j < d.size(); ++j) {
      const std::int64_t len = d[j].second - d[j].first;
      ODY_REQUIRE(len % m == 0, where,
                  "every document's length % (2N) == 0 (per-doc: 2N chunks of each), N = " +
                      std::to_string(n) + ", nearest valid length of document " +
                      std::to_string(j) + ": " + nearest(len, m),
                  "document ", j, " (at ", d[j].first, ") of length ", len);
    }
    return;
  }
  const std::string rule = m == 2 * n
                               ? "L % (2N) == 0 (" + std::string(to_string(layout)) + ": 2N chunks)"
                               : "L % N == 0 (" + std::string(to_string(layout)) + ")";
  ODY_REQUIRE(L > 0 && L % m == 0, where,
              rule + ", N = " + std::to_string(n) +
                  ", nearest valid L: " + nearest(std::max<std::int64_t>(L, 0), m),
              "L = ", L);
}

void check_divisible(const char* where, const char* name, std::int64_t value,
                     const char* divisor_name, std::int64_t divisor) {
  ODY_REQUIRE(divisor >= 1 && value > 0 && value % divisor == 0, where,
              std::string(name) + " % " + divisor_name + " == 0, " + divisor_name + " = " +
                  std::to_string(divisor) + ", nearest valid " + name + ": " +
                  nearest(std::max<std::int64_t>(value, 0), std::max<std::int64_t>(divisor, 1)),
              name, " = ", value);
}

std::vector<std::int64_t> local_positions(TokenLayout layout, std::int64_t L, int n, int r,
                                          std::span<const std::int64_t> docs) {
  check_layout(layout, L, n, "local_positions: L", docs);
  const std::int64_t ll = L / n;
  std::vector<std::int64_t> pos(ll);
  if (layout == TokenLayout::per_doc) {
    pos.clear();
    for (const auto& [start, end] : documents(L, docs)) {
      const std::int64_t c = (end - start) / (2 * n);
      for (std::int64_t j = 0; j < c; ++j) pos.push_back(start + r * c + j);
      for (std::int64_t j = 0; j < c; ++j) pos.push_back(start + (2 * n - 1 - r) * c + j);
    }
    return pos;
  }
  for (std::int64_t j = 0; j < ll; ++j) {
    switch (layout) {
      case TokenLayout::contiguous:
        pos[j] = r * ll + j;
        break;
      case TokenLayout::stripe:
        pos[j] = j * n + r;
        break;
      case TokenLayout::zigzag:
      case TokenLayout::per_doc: {
        const std::int64_t c = L / (2 * n);
        pos[j] = j < c ? r * c + j : (2 * n - 1 - r) * c + (j - c);
        break;
      }
    }
  }
  return pos;
}

void shard(TokenLayout layout, const float* full, float* local, std::int64_t B, std::int64_t L,
           std::int64_t w, int n, int r, std::span<const std::int64_t> docs) {
  const auto pos = local_positions(layout, L, n, r, docs);
  const std::int64_t ll = L / n;
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t j = 0; j < ll; ++j)
      std::copy_n(full + (b * L + pos[j]) * w, w, local + (b * ll + j) * w);
}

void unshard(TokenLayout layout, const float* local, float* full, std::int64_t B, std::int64_t L,
             std::int64_t w, comm::Communicator& comm, std::span<const std::int64_t> docs) {
  const int n = comm.size();
  check_layout(layout, L, n, "unshard: L", docs);
  const std::int64_t ll = L / n, block = B * ll * w;
  std::vector<float> all(static_cast<std::size_t>(block * n));  // [N][B, L/N, w]
  comm.all_gather(comm::cbuf(local, block), comm::buf(all));
  for (int r = 0; r < n; ++r) {
    const auto pos = local_positions(layout, L, n, r, docs);
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t j = 0; j < ll; ++j)
        std::copy_n(all.data() + r * block + (b * ll + j) * w, w, full + (b * L + pos[j]) * w);
  }
}

}  // namespace ody::strategies
