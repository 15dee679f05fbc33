#pragma once
// A handle on an operation in flight. Every operation of a Communicator has an
// asynchronous form returning a Work; the blocking form is the async form plus wait().
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/error.hpp"

namespace ody::comm {

inline constexpr std::chrono::milliseconds kNoTimeout{-1};

class Work {
 public:
  virtual ~Work() = default;
  // True once the operation has completed and its output buffers may be read. Calling
  // test() also advances the operation (backends without asynchronous progress, such as
  // OpenMPI here, only move data while some thread calls into them).
  virtual bool test() = 0;
  // Blocks until completion. With a timeout, throws ody::TimeoutError when it expires;
  // the operation is then still in flight and may be waited on again.
  virtual void wait(std::chrono::milliseconds timeout = kNoTimeout) = 0;
};

using WorkPtr = std::unique_ptr<Work>;

// A Work that is already complete (empty operations, world size 1 fast paths).
class CompletedWork final : public Work {
 public:
  bool test() override { return true; }
  void wait(std::chrono::milliseconds) override {}
};

// What a waiting thread does between polls: spin (busy polling, as OpenMPI does when ranks
// do not outnumber cores), yield the core after every poll, or yield only once the wait
// has lasted a millisecond (short waits spin, long ones let an oversubscribed peer run).
enum class IdlePolicy { spin, yield, yield_after_1ms };

// The one timed-wait loop of the backends: calls test() until it returns true. The clock
// (~27 ns a read here) is read every 64 polls, first after 64 failed polls, so a short
// wait never reads it; the timeout counts from that first read. timeout < 0: no limit.
// On expiry: ody::TimeoutError "wait: expected completion within T ms, found the
// operation still in flight (backend NAME)"; the operation stays in flight.
template <class Test>
void poll_until_done(Test&& test, std::chrono::milliseconds timeout, IdlePolicy idle,
                     const char* backend) {
  std::chrono::steady_clock::time_point start;
  for (std::uint64_t polls = 1; !test(); ++polls) {
    if (idle == IdlePolicy::yield) std::this_thread::yield();
    if (polls % 64 != 0) continue;
    const auto now = std::chrono::steady_clock::now();
    if (polls == 64) start = now;
    const auto waited = now - start;
    if (timeout >= std::chrono::milliseconds::zero() && waited >= timeout)
      throw TimeoutError("wait", "completion within " + std::to_string(timeout.count()) + " ms",
                         std::string("the operation still in flight (backend ") + backend + ")");
    if (idle == IdlePolicy::yield_after_1ms && waited > std::chrono::milliseconds(1))
      std::this_thread::yield();
  }
}

// Waits on several handles in order.
void wait_all(std::vector<WorkPtr>& works, std::chrono::milliseconds timeout = kNoTimeout);

}  // namespace ody::comm
