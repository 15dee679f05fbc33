#pragma once
// Runs schedules (schedule.hpp) on one communicator's UCP worker: posts each step's
// messages with their 64-bit tags (tag.hpp), polls their requests, runs the step's local
// work and posts the next step. Every operation in flight on the communicator is driven
// by every progress() call, whichever Work called it, so a rank waiting on one operation
// keeps its other operations moving for the peers that wait on them.
#include <cstdint>
#include <exception>
#include <list>
#include <memory>
#include <vector>

#include "backends/ucx/schedule.hpp"
#include "backends/ucx/worker.hpp"
#include "comm/communicator.hpp"

namespace ody::backends::ucx {

class Engine;

// One operation in flight.
class Operation {
 public:
  bool done() const { return done_; }
  // Rethrows the operation's failure, if any.
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  friend class Engine;
  Schedule schedule_;
  bool collective_ = false;
  std::uint32_t coll_tag_ = 0, seq_ = 0;
  std::size_t step_ = 0;  // the posted step
  struct Pending {
    void* request;
    const Xfer* xfer;
  };
  std::vector<Pending> pending_;
  bool done_ = false;
  std::exception_ptr error_;
};

class Engine {
 public:
  // Collective over `bootstrap` (which must outlive the Engine's shutdown()).
  Engine(MPI_Comm bootstrap, int rank, std::uint32_t comm_id);

  // Starts a collective on `tag` (the next in that tag's sequence) or a point-to-point
  // batch; posts its first step.
  std::shared_ptr<Operation> start_collective(Schedule s, comm::Tag tag);
  std::shared_ptr<Operation> start_p2p(Schedule s);
  // ucp_worker_progress, then advances every operation in flight (in issue order).
  void progress();
  // Completes every operation in flight, then closes the worker (collective). After it,
  // only finished operations may be asked about.
  void shutdown();

 private:
  std::shared_ptr<Operation> start(std::shared_ptr<Operation> op);
  void post_step(Operation& op);
  void advance(Operation& op);

  std::unique_ptr<Worker> worker_;
  int rank_;
  std::uint32_t comm_id_;
  std::uint32_t seq_[comm::kCollectiveTags] = {};
  std::list<std::shared_ptr<Operation>> active_;
};

}  // namespace ody::backends::ucx
