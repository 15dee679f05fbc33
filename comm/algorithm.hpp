#pragma once
// Which algorithm a communicator runs for one collective of a given size. A backend names
// the algorithms it has per operation (Communicator::algorithms: "native", the backend's
// own call, first; then the project's own over point to point, backends/p2p: "ring",
// "pairwise", "binomial"); a table says, per operation, which one runs up to which size.
// Sizes are the operation's full buffer on this rank in bytes: the larger of its send and
// receive buffers (all_gather: the received whole; reduce_scatter: the sent whole), the
// size ody-commbench prints.
#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "comm/traffic.hpp"

namespace ody::comm {

inline constexpr std::int64_t kAnySize = std::numeric_limits<std::int64_t>::max();

struct AlgoRule {
  std::int64_t max_bytes = kAnySize;  // for operations of at most this many bytes
  std::string algo;
};

class AlgoTable {
 public:
  // Rules of `kind` in ascending max_bytes (the first that covers a size wins).
  void set(OpKind kind, std::vector<AlgoRule> rules) {
    rules_[static_cast<int>(kind)] = std::move(rules);
  }
  const std::vector<AlgoRule>& rules(OpKind kind) const { return rules_[static_cast<int>(kind)]; }
  // The algorithm for an operation of `bytes`, or nullptr when no rule covers it.
  const std::string* find(OpKind kind, std::int64_t bytes) const {
    for (const auto& r : rules(kind))
      if (bytes <= r.max_bytes) return &r.algo;
    return nullptr;
  }

 private:
  std::array<std::vector<AlgoRule>, kNumOpKinds> rules_;
};

}  // namespace ody::comm
