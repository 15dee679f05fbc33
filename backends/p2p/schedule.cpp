#include "backends/p2p/schedule.hpp"

#include <algorithm>

namespace ody::backends::p2p {

namespace {

// Released scratch buffers of this thread, reused smallest-fit first. Holds at most
// kMaxBuffers buffers and kMaxBytes bytes; beyond that the oldest go back to the system.
class ScratchPool {
 public:
  std::unique_ptr<std::byte[]> take(std::size_t bytes, std::size_t& capacity) {
    auto best = free_.end();
    for (auto it = free_.begin(); it != free_.end(); ++it)
      if (it->first >= bytes && (best == free_.end() || it->first < best->first)) best = it;
    if (best == free_.end()) {
      capacity = bytes;
      return std::make_unique_for_overwrite<std::byte[]>(bytes);
    }
    capacity = best->first;
    auto p = std::move(best->second);
    held_ -= capacity;
    free_.erase(best);
    return p;
  }
  void give(std::size_t capacity, std::unique_ptr<std::byte[]> p) {
    free_.emplace_back(capacity, std::move(p));
    held_ += capacity;
    while (free_.size() > kMaxBuffers || held_ > kMaxBytes) {
      held_ -= free_.front().first;
      free_.erase(free_.begin());
    }
  }

 private:
  static constexpr std::size_t kMaxBuffers = 16;
  static constexpr std::size_t kMaxBytes = std::size_t{1} << 30;
  std::vector<std::pair<std::size_t, std::unique_ptr<std::byte[]>>> free_;
  std::size_t held_ = 0;
};

ScratchPool& pool() {
  thread_local ScratchPool p;
  return p;
}

}  // namespace

Schedule::~Schedule() {
  for (auto& b : buffers_) pool().give(b.capacity, std::move(b.data));
}

std::byte* Schedule::scratch(std::size_t bytes) {
  Buffer b;
  b.data = pool().take(std::max<std::size_t>(bytes, 1), b.capacity);
  buffers_.push_back(std::move(b));
  return buffers_.back().data.get();
}

}  // namespace ody::backends::p2p
