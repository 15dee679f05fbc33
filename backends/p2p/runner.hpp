#pragma once
// Runs schedules (schedule.hpp) over a Transport: posts each step's messages, polls them,
// runs the step's local work and posts the next step. One Runner per communicator; every
// operation in flight on it is driven by every progress() call, whichever Work called it,
// so a rank waiting on one operation keeps its other operations moving for the peers that
// wait on them. The UCX backend (backends/ucx/engine.hpp) and the plugin host
// (backends/plugin/host_communicator.hpp) are each a Transport over this one engine.
//
// A receive's completion work (Xfer::on_done) runs as soon as the run learns that the
// message landed: from the transport's own completion callback where it has one (UCX:
// inside ucp_worker_progress, through Slot::complete), else when test() reports it. With
// chunked messages each chunk is then reduced right after it arrived, while in cache.
//
// Failure: an operation whose message or local work failed is done with its error
// (Run::rethrow); its messages in flight are cancelled (Transport::cancel) and the run is
// kept, buffers and all, until release_failed(), after the transport can no longer write.
#include <cstdint>
#include <exception>
#include <list>
#include <memory>
#include <vector>

#include "backends/p2p/schedule.hpp"
#include "comm/communicator.hpp"

namespace ody::backends::p2p {

// Which operation a message belongs to: what a transport folds into its wire tag.
struct OpId {
  bool collective = false;
  std::uint32_t tag = 0;  // the collective's comm::Tag
  std::uint32_t seq = 0;  // its number among the collectives of that tag, from 0
};

// One message of the posted step, as the run tracks it.
struct Slot {
  const Xfer* xfer = nullptr;
  bool ran = false;  // on_done ran
  std::exception_ptr error;
  // Runs on_done once (a transport's completion callback may call it early); keeps what
  // it throws for the run to report.
  void complete() noexcept;
};

class Transport {
 public:
  using Handle = void*;
  virtual ~Transport() = default;
  // Posts one message of operation `id` (for a collective, x.tag is the step id; for
  // point to point, the user tag). Returns nullptr when it completed at once. `slot`
  // stays valid until the message completed or was cancelled.
  virtual Handle post(const Xfer& x, const OpId& id, Slot* slot) = 0;
  // True once the handle completed (it is then released). Throws ody::Error on failure
  // (the handle is then released too).
  virtual bool test(Handle h) = 0;
  // A handle of a failed operation that will not be tested again. Default: nothing (the
  // run, and so its buffers, are kept until release_failed()).
  virtual void cancel(Handle h) {}
};

// One operation in flight.
class Run {
 public:
  bool done() const { return done_; }
  // Rethrows the operation's failure, if any.
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  friend class Runner;
  Schedule schedule_;
  OpId id_;
  std::size_t step_ = 0;  // the posted step
  std::unique_ptr<Slot[]> slots_;
  struct Pending {
    Transport::Handle handle;
    Slot* slot;
  };
  std::vector<Pending> pending_;
  bool done_ = false;
  std::exception_ptr error_;
};

class Runner {
 public:
  explicit Runner(Transport& t) : transport_(t) {}

  // Starts a collective on `tag` (the next in that tag's sequence) or a point-to-point
  // batch, and posts its first step. A failure to post throws.
  std::shared_ptr<Run> start_collective(Schedule s, comm::Tag tag);
  std::shared_ptr<Run> start_p2p(Schedule s);
  // Advances every operation in flight, in issue order; never blocks.
  void progress();
  bool idle() const { return active_.empty(); }
  // Drops the failed runs kept for their cancelled messages (the transport is closed).
  void release_failed() { failed_.clear(); }

 private:
  std::shared_ptr<Run> start(std::shared_ptr<Run> run);
  void post_step(Run& run);
  void advance(Run& run);
  void retire(const std::shared_ptr<Run>& run);

  Transport& transport_;
  std::uint32_t seq_[comm::kCollectiveTags] = {};
  std::list<std::shared_ptr<Run>> active_;
  std::vector<std::shared_ptr<Run>> failed_;
};

}  // namespace ody::backends::p2p
