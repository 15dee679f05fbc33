#pragma once
// A handle on an operation in flight. Every operation of a Communicator has an
// asynchronous form returning a Work; the blocking form is the async form plus wait().
#include <chrono>
#include <memory>
#include <vector>

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

// Waits on several handles in order.
void wait_all(std::vector<WorkPtr>& works, std::chrono::milliseconds timeout = kNoTimeout);

}  // namespace ody::comm
