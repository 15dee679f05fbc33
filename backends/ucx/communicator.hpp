#pragma once
// The UCX backend: every operation of ody::comm::Communicator over UCP tag-matched
// point-to-point messages, with the collectives of backends/p2p (algorithms.hpp: ring
// all-gather and reduce-scatter, all-reduce = reduce-scatter + all-gather, pairwise
// all-to-all, binomial broadcast, dissemination barrier).
//
// Setup: one UCP context per process (shared), one UCP worker per communicator with an
// endpoint to every rank. Worker addresses are exchanged through MPI over a private
// duplicate of the communicator's MPI group (the "bootstrap" communicator); split()
// splits that MPI communicator and builds a new worker. MPI carries nothing else:
// it must be initialised first (ody::backends::mpi::Environment).
//
// Matching: every message carries a 64-bit tag (tag.hpp) holding the communicator id,
// the source rank and either the user tag (point-to-point) or the collective tag, the
// collective's sequence number on that tag and its algorithm step. Collectives with
// different tags are therefore independent; those with the same tag match in issue order.
//
// Progress model: there is no progress thread. UCP moves data only inside
// ucp_worker_progress, which this backend calls from Work::test() and Work::wait() (wait
// loops on test until completion or its timeout, then throws ody::TimeoutError and leaves
// the operation in flight; it polls without yielding the core) and while issuing an
// operation (its first step is posted at once; eager messages may leave then). Each such call
// progresses the worker and then advances *every* operation in flight on this communicator (posting
// its next step when the previous one finished), not only the one waited on, so operations waited
// on in different orders on different ranks cannot deadlock. Code that overlaps communication with
// compute calls test() between compute steps, as with the MPI backend.
//
// Threads: the worker runs in UCS_THREAD_MODE_SINGLE; one thread at a time may use a
// communicator and its Works. Works must finish before their communicator is destroyed;
// the destructor completes every operation still in flight, then closes the endpoints
// (collectively: it ends with an MPI barrier over the bootstrap communicator).
//
// Traffic: BackendInfo::counts_own_traffic is true; each operation counts exactly the
// bytes its schedule sends and receives (docs/backends.md has the closed forms).
//
// Environment: UCX reads UCX_* variables (UCX_TLS, ...) when the first communicator of a
// process is created; docs/backends.md says which transports work on this machine and
// which UCX defaults this backend changes (UCX_CMA_SEG_SIZE=inf unless set; worker.cpp).
#include <mpi.h>

#include <memory>

#include "comm/communicator.hpp"

namespace ody::backends::p2p {
struct Schedule;
}

namespace ody::backends::ucx {

class Engine;

class UcxCommunicator final : public comm::Communicator {
 public:
  // Collective over `parent` (e.g. MPI_COMM_WORLD, which stays owned by the caller).
  static std::unique_ptr<UcxCommunicator> create(MPI_Comm parent);
  ~UcxCommunicator() override;

  // The id carried in this communicator's tags (tag.hpp).
  std::uint32_t id() const { return id_; }

 protected:
  std::unique_ptr<comm::Communicator> do_split(int color, int key) override;
  comm::WorkPtr do_all_reduce(comm::ConstBuf send, comm::Buf recv, comm::ReduceOp op,
                              comm::Tag tag) override;
  comm::WorkPtr do_all_gather(comm::ConstBuf send, comm::Buf recv, comm::Tag tag) override;
  comm::WorkPtr do_all_gather_v(comm::ConstBuf send, comm::Buf recv,
                                std::span<const std::int64_t> counts, comm::Tag tag) override;
  comm::WorkPtr do_reduce_scatter(comm::ConstBuf send, comm::Buf recv, comm::ReduceOp op,
                                  comm::Tag tag) override;
  comm::WorkPtr do_all_to_all(comm::ConstBuf send, comm::Buf recv, comm::Tag tag) override;
  comm::WorkPtr do_all_to_all_v(comm::ConstBuf send, std::span<const std::int64_t> send_counts,
                                comm::Buf recv, std::span<const std::int64_t> recv_counts,
                                comm::Tag tag) override;
  comm::WorkPtr do_broadcast(comm::Buf buffer, int root, comm::Tag tag) override;
  comm::WorkPtr do_barrier(comm::Tag tag) override;
  comm::WorkPtr do_batch_p2p(std::span<const comm::P2POp> ops) override;

 private:
  // Takes ownership of `bootstrap` (freed in the destructor).
  UcxCommunicator(MPI_Comm bootstrap, int rank, int size);
  comm::WorkPtr collective(comm::OpKind kind, p2p::Schedule&& s, comm::Tag tag);

  MPI_Comm bootstrap_;
  std::uint32_t id_ = 0;
  std::shared_ptr<Engine> engine_;
};

}  // namespace ody::backends::ucx
