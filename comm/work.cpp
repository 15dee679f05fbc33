#include "comm/work.hpp"

#include <chrono>

#include "base/error.hpp"

namespace ody::comm {

void wait_all(std::vector<WorkPtr>& works, std::chrono::milliseconds timeout) {
  if (timeout < std::chrono::milliseconds::zero()) {
    for (auto& w : works)
      if (w) w->wait();
    return;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& w : works) {
    if (!w) continue;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    w->wait(std::max(left, std::chrono::milliseconds::zero()));
  }
}

}  // namespace ody::comm
