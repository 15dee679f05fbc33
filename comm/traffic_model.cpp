#include "comm/traffic_model.hpp"

namespace ody::comm::traffic_model {

namespace {
std::uint64_t u(std::int64_t v) { return static_cast<std::uint64_t>(v); }
}  // namespace

// Reduce-scatter + all-gather over an element-balanced partition: rank r owns
// count/p (+1 for r < count % p) elements and sends/receives everything else twice.
// Summed over ranks this is exactly 2(p-1)/p of the buffer per rank on average.
Bytes all_reduce(std::int64_t count, std::size_t esize, int p, int r) {
  const std::int64_t own = count / p + (r < count % p ? 1 : 0);
  const std::uint64_t b = 2 * u(count - own) * esize;
  return {b, b};
}

Bytes all_gather(std::int64_t send_count, std::size_t esize, int p) {
  const std::uint64_t b = u(send_count) * esize * u(p - 1);
  return {b, b};
}

// Direct exchange: the own block goes to every other rank; every other block arrives.
Bytes all_gather_v(std::span<const std::int64_t> counts, std::size_t esize, int r) {
  std::int64_t total = 0;
  for (auto c : counts) total += c;
  const auto p = static_cast<std::int64_t>(counts.size());
  return {u(counts[r] * (p - 1)) * esize, u(total - counts[r]) * esize};
}

Bytes reduce_scatter(std::int64_t recv_count, std::size_t esize, int p) {
  const std::uint64_t b = u(recv_count) * esize * u(p - 1);
  return {b, b};
}

// Everything not addressed to itself.
Bytes all_to_all(std::int64_t count, std::size_t esize, int p) {
  const std::uint64_t b = u(count / p) * esize * u(p - 1);
  return {b, b};
}

Bytes all_to_all_v(std::span<const std::int64_t> send_counts,
                   std::span<const std::int64_t> recv_counts, std::size_t esize, int r) {
  Bytes b;
  for (std::size_t j = 0; j < send_counts.size(); ++j) {
    if (static_cast<int>(j) == r) continue;
    b.sent += u(send_counts[j]) * esize;
    b.recv += u(recv_counts[j]) * esize;
  }
  return b;
}

// The root sends the buffer once; every other rank receives it once. Forwarding inside
// the backend's tree is not counted (invisible for MPI).
Bytes broadcast(std::int64_t count, std::size_t esize, int p, int r, int root) {
  const std::uint64_t b = u(count) * esize;
  if (p == 1) return {};
  return r == root ? Bytes{b, 0} : Bytes{0, b};
}

}  // namespace ody::comm::traffic_model
