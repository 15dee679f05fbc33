#include "comm/traffic.hpp"

#include <array>

namespace ody::comm {

std::string_view to_string(OpKind k) {
  static constexpr std::array<std::string_view, kNumOpKinds> kNames = {
      "allreduce", "allgather", "allgatherv", "reducescatter", "alltoall",
      "alltoallv", "broadcast", "barrier",    "send",          "recv"};
  return kNames[static_cast<int>(k)];
}

TrafficEntry TrafficSnapshot::total() const {
  TrafficEntry t;
  for (const auto& e : by_kind) {
    t.ops += e.ops;
    t.bytes_sent += e.bytes_sent;
    t.bytes_recv += e.bytes_recv;
  }
  return t;
}

TrafficSnapshot& TrafficSnapshot::operator+=(const TrafficSnapshot& o) {
  for (int i = 0; i < kNumOpKinds; ++i) {
    by_kind[i].ops += o.by_kind[i].ops;
    by_kind[i].bytes_sent += o.by_kind[i].bytes_sent;
    by_kind[i].bytes_recv += o.by_kind[i].bytes_recv;
  }
  return *this;
}

TrafficSnapshot TrafficSnapshot::operator-(const TrafficSnapshot& o) const {
  TrafficSnapshot d = *this;
  for (int i = 0; i < kNumOpKinds; ++i) {
    d.by_kind[i].ops -= o.by_kind[i].ops;
    d.by_kind[i].bytes_sent -= o.by_kind[i].bytes_sent;
    d.by_kind[i].bytes_recv -= o.by_kind[i].bytes_recv;
  }
  return d;
}

TrafficSnapshot TrafficCounters::snapshot() const {
  TrafficSnapshot s;
  for (int i = 0; i < kNumOpKinds; ++i) {
    s.by_kind[i].ops = counters_[i].ops.load(std::memory_order_relaxed);
    s.by_kind[i].bytes_sent = counters_[i].sent.load(std::memory_order_relaxed);
    s.by_kind[i].bytes_recv = counters_[i].recv.load(std::memory_order_relaxed);
  }
  return s;
}

void TrafficCounters::reset() {
  for (auto& c : counters_) {
    c.ops.store(0, std::memory_order_relaxed);
    c.sent.store(0, std::memory_order_relaxed);
    c.recv.store(0, std::memory_order_relaxed);
  }
}

}  // namespace ody::comm
