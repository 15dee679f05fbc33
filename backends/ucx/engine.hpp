#pragma once
// The UCX backend's transport for the schedules of backends/p2p: one communicator's UCP
// worker, with each message's 64-bit tag built from its operation (tag.hpp). The runner
// (backends/p2p/runner.hpp) posts steps, advances every operation in flight on each
// progress() and keeps failed operations until shutdown. A receive with completion work
// (Xfer::on_done) gets UCX's completion callback, which runs that work inside
// ucp_worker_progress as soon as the message landed: with chunked messages each chunk is
// reduced right after it was copied, while it is still in cache, rather than after every
// chunk that arrived in the same progress call.
#include <cstdint>
#include <memory>

#include "backends/p2p/runner.hpp"
#include "backends/ucx/worker.hpp"

namespace ody::backends::ucx {

class Engine final : private p2p::Transport {
 public:
  // Collective over `bootstrap` (which must outlive the Engine's shutdown()).
  Engine(MPI_Comm bootstrap, int rank, std::uint32_t comm_id);

  std::shared_ptr<p2p::Run> start_collective(p2p::Schedule s, comm::Tag tag) {
    return runner_.start_collective(std::move(s), tag);
  }
  std::shared_ptr<p2p::Run> start_p2p(p2p::Schedule s) { return runner_.start_p2p(std::move(s)); }
  // ucp_worker_progress, then advances every operation in flight (in issue order).
  void progress();
  // Completes every operation in flight, then closes the worker (collective). After it,
  // only finished operations may be asked about.
  void shutdown();

 private:
  Handle post(const p2p::Xfer& x, const p2p::OpId& id, p2p::Slot* slot) override;
  bool test(Handle h) override { return Worker::test(h); }
  void cancel(Handle h) override { worker_->cancel(h); }

  std::unique_ptr<Worker> worker_;
  int rank_;
  std::uint32_t comm_id_;
  p2p::Runner runner_{*this};
};

}  // namespace ody::backends::ucx
