#include "layers/documents.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "base/error.hpp"

namespace ody::layers {

std::vector<Pos> doc_starts_of(std::span<const std::int64_t> lens) {
  std::vector<Pos> starts;
  Pos at = 0;
  for (std::int64_t n : lens) {
    ODY_REQUIRE(n >= 1, "document length", "at least 1 token", n);
    starts.push_back(at);
    at += n;
  }
  return starts;
}

std::vector<std::int64_t> doc_lens_of(std::span<const Pos> starts, std::int64_t L) {
  std::vector<std::int64_t> lens;
  for (std::size_t j = 0; j < starts.size(); ++j)
    lens.push_back((j + 1 < starts.size() ? starts[j + 1] : L) - starts[j]);
  return lens;
}

Pos doc_start(std::span<const Pos> starts, Pos p) {
  const auto next = std::upper_bound(starts.begin(), starts.end(), p);
  return next == starts.begin() ? 0 : *(next - 1);
}

void rope_positions(std::span<const Pos> starts, const Pos* pos, std::int64_t n, Pos* out) {
  for (std::int64_t j = 0; j < n; ++j) out[j] = pos[j] - doc_start(starts, pos[j]);
}

std::vector<std::int64_t> parse_doc_lens(const std::string& text, std::int64_t L,
                                         const std::string& what) {
  std::vector<std::int64_t> lens;
  if (text.rfind("random:", 0) == 0) {
    // random:SEED[:MEAN[:MULTIPLE]]
    std::vector<std::string> f;
    for (std::size_t at = 7; at <= text.size();) {
      const std::size_t colon = std::min(text.find(':', at), text.size());
      f.push_back(text.substr(at, colon - at));
      at = colon + 1;
    }
    const std::string form = "random:SEED[:MEAN[:MULTIPLE]] (integers, MEAN >= MULTIPLE >= 1)";
    std::uint64_t seed = 0;
    std::int64_t mean = L / 8, multiple = 1;
    try {
      std::size_t used = 0;
      ODY_REQUIRE(f.size() <= 3, what, form, "'", text, "'");
      seed = std::stoull(f[0], &used);
      ODY_REQUIRE(used == f[0].size(), what, form, "'", text, "'");
      if (f.size() > 1) mean = std::stoll(f[1], &used);
      ODY_REQUIRE(f.size() < 2 || used == f[1].size(), what, form, "'", text, "'");
      if (f.size() > 2) multiple = std::stoll(f[2], &used);
      ODY_REQUIRE(f.size() < 3 || used == f[2].size(), what, form, "'", text, "'");
    } catch (const std::logic_error&) {
      throw Error(what, form, "'" + text + "'");
    }
    ODY_REQUIRE(multiple >= 1 && mean >= multiple, what, form, "'", text, "'");
    ODY_REQUIRE(L % multiple == 0, what,
                "L a multiple of MULTIPLE = " + std::to_string(multiple) + " (every length is)",
                "L = ", L);
    // Log-normal with sigma 1 (a long tail: a few documents hold most tokens), its median
    // chosen so that the mean is MEAN; lengths in units of MULTIPLE, the last cut to fit.
    std::mt19937_64 rng(seed);
    std::lognormal_distribution<double> draw(std::log(double(mean) / double(multiple)) - 0.5, 1.0);
    std::int64_t left = L / multiple;
    while (left > 0) {
      const auto n = std::clamp<std::int64_t>(std::llround(draw(rng)), 1, left);
      lens.push_back(n * multiple);
      left -= n;
    }
    return lens;
  }
  std::int64_t sum = 0;
  std::size_t at = 0;
  while (at <= text.size()) {
    const std::size_t comma = std::min(text.find(',', at), text.size());
    const std::string item = text.substr(at, comma - at);
    std::size_t used = 0;
    std::int64_t n = 0;
    try {
      n = std::stoll(item, &used);
    } catch (const std::logic_error&) {
      used = 0;
    }
    ODY_REQUIRE(used == item.size() && used > 0 && n >= 1, what,
                "positive integer lengths separated by commas, or random:SEED[:MEAN[:MULTIPLE]]",
                "'", item, "'");
    lens.push_back(n);
    sum += n;
    at = comma + 1;
  }
  ODY_REQUIRE(sum == L, what, "lengths summing to L = " + std::to_string(L), "a sum of ", sum);
  return lens;
}

}  // namespace ody::layers
