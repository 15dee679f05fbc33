#include "experiments/bench/metrics.hpp"

#include <malloc.h>
#include <algorithm>
#include <cmath>

#include <fstream>
#include <string>
#include <vector>

#include "layers/documents.hpp"

namespace ody::experiments::bench {

namespace {
std::int64_t read_status_kib(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::string k = std::string(key) + ":";
  while (std::getline(f, line))
    if (line.rfind(k, 0) == 0) return std::stoll(line.substr(k.size()));
  return 0;
}
}  // namespace

Flops block_flops(const layers::BlockConfig& c) {
  const double T = static_cast<double>(c.tokens()), d = static_cast<double>(c.d);
  const double Dh = static_cast<double>(c.head_dim()), H = static_cast<double>(c.H);
  const double G = static_cast<double>(c.G), i = static_cast<double>(c.ffn);
  const double gemm = 2 * T * (d * H * Dh + 2 * d * G * Dh + H * Dh * d + 3 * d * i);
  // Attention over every document (one: L); causal counts half of each square.
  double squares = 0;
  for (auto n : c.doc_starts.empty() ? std::vector<std::int64_t>{c.L}
                                     : layers::doc_lens_of(c.doc_starts, c.L))
    squares += double(n) * double(n);
  const double attn = 4.0 * c.B * H * squares * Dh * (c.causal ? 0.5 : 1.0);
  return {gemm + attn, 2 * gemm + 2.5 * attn};
}

double rel_err(const float* got, const float* ref, std::size_t n) {
  double max_ref = 0, worst = 0;
  for (std::size_t e = 0; e < n; ++e) {
    max_ref = std::max(max_ref, std::abs(double(ref[e])));
    const double err = std::abs(double(got[e]) - double(ref[e]));
    worst = std::isnan(err) ? INFINITY : std::max(worst, err);
  }
  return max_ref > 0 ? worst / max_ref : worst;
}

double expected_peak_bytes(const strategies::Cost& cost, const layers::BlockConfig& c,
                           int world_size) {
  const double shard = static_cast<double>(c.B * (c.L / world_size) * c.d) * sizeof(float);
  return static_cast<double>(cost.peak_bytes) + 4 * shard;
}

double single_rank_expected_peak_bytes(const layers::BlockConfig& c) {
  const double full = static_cast<double>(c.B * c.L * c.d) * sizeof(float);
  return static_cast<double>(layers::Block::peak_bytes(c) + layers::Block::parameter_bytes(c)) +
         2 * full;
}

void PeakMemory::start() {
  // Return the heap's free pages first: otherwise a region could reuse memory an earlier
  // one freed but the allocator kept, and its peak would be under-counted.
  malloc_trim(0);
  rss_start_kib_ = read_status_kib("VmRSS");
  std::ofstream("/proc/self/clear_refs") << "5";
}

double PeakMemory::peak_bytes_since() const {
  return static_cast<double>(read_status_kib("VmHWM") - rss_start_kib_) * 1024.0;
}

}  // namespace ody::experiments::bench
