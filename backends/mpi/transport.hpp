#pragma once
// MPI point to point as a p2p::Transport (backends/p2p/runner.hpp), so that the MPI
// backend can run the project's own collective schedules (ring reduce-scatter, ...) where
// they beat OpenMPI's collective (comm/algorithm.hpp). Its own duplicate of the
// communicator keeps those messages apart from the user's point to point; every message
// of a collective carries tag (sequence mod window) * kCollectiveTags + collective tag,
// and MPI's non-overtaking matching per (source, tag) keeps a schedule's messages in order.
#include <mpi.h>

#include "backends/p2p/runner.hpp"

namespace ody::backends::mpi {

class Transport final : public p2p::Transport {
 public:
  // Duplicates `comm` (collective over it).
  explicit Transport(MPI_Comm comm);
  ~Transport() override;
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  Handle post(const p2p::Xfer& x, const p2p::OpId& id, p2p::Slot* slot) override;
  bool test(Handle h) override;
  void cancel(Handle h) override;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int window_ = 1;  // collectives of one tag distinguished by sequence mod window
};

}  // namespace ody::backends::mpi
