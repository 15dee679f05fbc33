#pragma once
// The MPI backend: every operation of ody::comm::Communicator over OpenMPI, asynchronous
// forms on non-blocking MPI calls (MPI_Iallreduce, MPI_Isend, ...).
//
// Tags: each collective tag has its own duplicate of the MPI communicator, so collectives
// with different tags are matched independently (MPI matches collectives in issue order
// per communicator). Point-to-point messages use the MPI tag directly.
//
// Progress: OpenMPI here has no asynchronous progress thread: a non-blocking operation
// advances only while some thread calls into MPI (Work::test() or wait()).
//
// Algorithms (comm/algorithm.hpp): "native" is OpenMPI's collective; the project's own
// schedules (backends/p2p: "ring" for all-reduce, all-gather(v) and reduce-scatter,
// "pairwise" for all-to-all(v), "binomial" for broadcast) run over MPI point to point on
// a communicator of their own (transport.hpp), driven by every test()/wait() of any of
// their Works. Defaults (default_algorithm): measured at 2 ranks on this machine kind
// (docs/results.md, "Algorithm per size"): ring reduce-scatter and all-reduce from 64 KiB,
// native below and for everything else.
#include <mpi.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "comm/communicator.hpp"

namespace ody::backends::p2p {
class Runner;
}

namespace ody::backends::mpi {

class Transport;

class MpiCommunicator final : public comm::Communicator {
 public:
  // Duplicates `parent` (which stays owned by the caller), e.g. MPI_COMM_WORLD.
  static std::unique_ptr<MpiCommunicator> duplicate(MPI_Comm parent);
  ~MpiCommunicator() override;

  // The communicator used for point-to-point and tag-0 collectives (for raw MPI baselines).
  MPI_Comm native() const { return comms_[0]; }

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
  // Blocking forms on MPI's blocking collectives (OpenMPI's tuned component), which are
  // faster than libnbc's non-blocking ones between about 1 KiB and 4 MiB.
  void do_all_reduce_blocking(comm::ConstBuf send, comm::Buf recv, comm::ReduceOp op,
                              comm::Tag tag) override;
  void do_all_gather_blocking(comm::ConstBuf send, comm::Buf recv, comm::Tag tag) override;
  void do_all_gather_v_blocking(comm::ConstBuf send, comm::Buf recv,
                                std::span<const std::int64_t> counts, comm::Tag tag) override;
  void do_reduce_scatter_blocking(comm::ConstBuf send, comm::Buf recv, comm::ReduceOp op,
                                  comm::Tag tag) override;
  void do_all_to_all_blocking(comm::ConstBuf send, comm::Buf recv, comm::Tag tag) override;
  void do_all_to_all_v_blocking(comm::ConstBuf send, std::span<const std::int64_t> send_counts,
                                comm::Buf recv, std::span<const std::int64_t> recv_counts,
                                comm::Tag tag) override;
  void do_broadcast_blocking(comm::Buf buffer, int root, comm::Tag tag) override;
  void do_barrier_blocking(comm::Tag tag) override;
  void check_count_limit(const char* where, std::int64_t count) const override;
  std::vector<std::string> algorithms(comm::OpKind kind) const override;
  std::string default_algorithm(comm::OpKind kind, std::int64_t bytes) const override;

 private:
  // Takes ownership of `comm` (freed in the destructor).
  MpiCommunicator(MPI_Comm comm, int rank, int size);

  // The schedule `build()` makes, as a Work, when `kind` of `bytes` runs one of the
  // project's own algorithms; null when it runs native.
  template <class Build>
  comm::WorkPtr scheduled(comm::OpKind kind, std::int64_t bytes, comm::Tag tag, Build&& build);
  bool native(comm::OpKind kind, std::int64_t bytes) const {
    return algorithm(kind, bytes) == "native";
  }

  std::array<MPI_Comm, comm::kCollectiveTags> comms_{};
  std::unique_ptr<Transport> transport_;  // the schedules' messages
  std::shared_ptr<p2p::Runner> runner_;   // shared with their Works
};

}  // namespace ody::backends::mpi
