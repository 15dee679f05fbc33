#pragma once
// Runs schedules (schedule.hpp) on one communicator's UCP worker: posts each step's
// messages with their 64-bit tags (tag.hpp), polls their requests, runs the step's local
// work and posts the next step. Every operation in flight on the communicator is driven
// by every progress() call, whichever Work called it, so a rank waiting on one operation
// keeps its other operations moving for the peers that wait on them. A receive's own
// completion work (Xfer::on_done) runs from UCX's completion callback, inside
// ucp_worker_progress, as soon as that message landed: with chunked messages each chunk
// is reduced right after it was copied, while it is still in cache, rather than after
// every chunk that arrived in the same progress call.
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
  // One per message of the posted step. A receive's on_done runs from UCX's completion
  // callback, inside ucp_worker_progress, right after that message landed (e.g. a chunk
  // is reduced while still in cache, before the next chunk is fetched), or from advance()
  // when it completed at posting; `ran` says it did, `error` holds what it threw.
  struct Slot {
    const Xfer* xfer = nullptr;
    bool ran = false;
    std::exception_ptr error;
  };
  std::unique_ptr<Slot[]> slots_;
  struct Pending {
    void* request;
    Slot* slot;
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
  // After a failure: cancels the operation's messages in flight and keeps it in failed_.
  void retire(const std::shared_ptr<Operation>& op);
  // UCX's completion callback of a receive with local work (Operation::Slot).
  static void on_recv_complete(void* request, ucs_status_t status, const ucp_tag_recv_info_t* info,
                               void* slot);

  std::unique_ptr<Worker> worker_;
  int rank_;
  std::uint32_t comm_id_;
  std::uint32_t seq_[comm::kCollectiveTags] = {};
  std::list<std::shared_ptr<Operation>> active_;
  // Operations that failed with messages still in flight: those are cancelled, and the
  // operations (schedules and slots the callbacks point to) are kept until shutdown.
  std::vector<std::shared_ptr<Operation>> failed_;
};

}  // namespace ody::backends::ucx
