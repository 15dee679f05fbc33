#pragma once
// The Work of one schedule in flight (runner.hpp), for every backend that runs them: test()
// drives `driver->progress()` (which advances every operation in flight on the
// communicator, so a rank waiting on one keeps the others moving for its peers) until the
// run is done, then reports its failure, if any; wait() polls test() with the backend's
// idle policy; the destructor completes an unfinished run, since the transport may still
// write into its buffers. Driver: anything with progress() (the UCX engine, a Runner, the
// plugin host), held by a pointer that keeps it alive as long as the Work needs it.
#include <memory>

#include "backends/p2p/runner.hpp"
#include "comm/work.hpp"

namespace ody::backends::p2p {

template <class DriverPtr>
class RunWork final : public comm::Work {
 public:
  RunWork(DriverPtr driver, std::shared_ptr<Run> run, comm::IdlePolicy idle, const char* backend)
      : driver_(std::move(driver)), run_(std::move(run)), idle_(idle), backend_(backend) {}
  ~RunWork() override {
    if (run_->done()) return;
    try {
      wait(comm::kNoTimeout);
    } catch (...) {
      // A destructor cannot report the failure; wait() would have.
    }
  }
  bool test() override {
    if (!run_->done()) driver_->progress();
    if (run_->done()) run_->rethrow();
    return run_->done();
  }
  void wait(std::chrono::milliseconds timeout) override {
    comm::poll_until_done([this] { return test(); }, timeout, idle_, backend_);
  }

 private:
  DriverPtr driver_;
  std::shared_ptr<Run> run_;
  comm::IdlePolicy idle_;
  const char* backend_;
};

}  // namespace ody::backends::p2p
