#pragma once
// The algorithm-independent traffic volume of each operation (docs/traffic.md): what a
// backend whose algorithms are invisible (MPI) records, and what tests and strategy cost
// models compute. Bytes for this rank, given the operation's arguments.
#include <cstdint>
#include <span>

#include "comm/traffic.hpp"

namespace ody::comm::traffic_model {

struct Bytes {
  std::uint64_t sent = 0;
  std::uint64_t recv = 0;
};

// count: elements of the full buffer; esize: element size; p: world size; r: rank.
Bytes all_reduce(std::int64_t count, std::size_t esize, int p, int r);
Bytes all_gather(std::int64_t send_count, std::size_t esize, int p);
Bytes all_gather_v(std::span<const std::int64_t> counts, std::size_t esize, int r);
Bytes reduce_scatter(std::int64_t recv_count, std::size_t esize, int p);
Bytes all_to_all(std::int64_t count, std::size_t esize, int p);
Bytes all_to_all_v(std::span<const std::int64_t> send_counts,
                   std::span<const std::int64_t> recv_counts, std::size_t esize, int r);
Bytes broadcast(std::int64_t count, std::size_t esize, int p, int r, int root);

}  // namespace ody::comm::traffic_model
