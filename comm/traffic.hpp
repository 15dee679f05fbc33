#pragma once
// Per-communicator traffic accounting: for each operation kind, how many operations ran
// and how many bytes this rank sent and received. docs/traffic.md defines the count of
// every operation; strategies and tests compare these counters with their formulas
// exactly, so the definitions are part of the interface.
//
// Counters are relaxed atomics: cheap on the issuing thread, safe to read from another.
#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

namespace ody::comm {

enum class OpKind : std::uint8_t {
  allreduce,
  allgather,
  allgatherv,
  reducescatter,
  alltoall,
  alltoallv,
  broadcast,
  barrier,
  send,
  recv
};
inline constexpr int kNumOpKinds = 10;
std::string_view to_string(OpKind k);

struct TrafficEntry {
  std::uint64_t ops = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_recv = 0;
};

struct TrafficSnapshot {
  std::array<TrafficEntry, kNumOpKinds> by_kind{};
  const TrafficEntry& operator[](OpKind k) const { return by_kind[static_cast<int>(k)]; }
  TrafficEntry total() const;
  TrafficSnapshot& operator+=(const TrafficSnapshot& o);
  TrafficSnapshot operator-(const TrafficSnapshot& o) const;
};

class TrafficCounters {
 public:
  void add(OpKind k, std::uint64_t sent, std::uint64_t recv) {
    auto& c = counters_[static_cast<int>(k)];
    c.ops.fetch_add(1, std::memory_order_relaxed);
    c.sent.fetch_add(sent, std::memory_order_relaxed);
    c.recv.fetch_add(recv, std::memory_order_relaxed);
  }
  TrafficSnapshot snapshot() const;
  void reset();

 private:
  struct Atomic {
    std::atomic<std::uint64_t> ops{0}, sent{0}, recv{0};
  };
  std::array<Atomic, kNumOpKinds> counters_{};
};

}  // namespace ody::comm
