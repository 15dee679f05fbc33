#include "backends/mpi/transport.hpp"

#include <algorithm>
#include <climits>
#include <memory>

#include "backends/mpi/check.hpp"
#include "base/error.hpp"

namespace ody::backends::mpi {

Transport::Transport(MPI_Comm comm) {
  ODY_MPI_CHECK(MPI_Comm_dup(comm, &comm_));
  ODY_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  int* tag_ub = nullptr;
  int found = 0;
  ODY_MPI_CHECK(MPI_Comm_get_attr(comm_, MPI_TAG_UB, &tag_ub, &found));
  const int ub = found && tag_ub ? *tag_ub : 32767;  // the standard's minimum
  window_ = std::max(1, std::min(1 << 16, (ub + 1) / comm::kCollectiveTags));
}

Transport::~Transport() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

p2p::Transport::Handle Transport::post(const p2p::Xfer& x, const p2p::OpId& id, p2p::Slot*) {
  ODY_REQUIRE(x.bytes <= static_cast<std::size_t>(INT_MAX), "mpi backend: message",
              "at most INT_MAX bytes per schedule message", x.bytes);
  const int tag = id.collective ? static_cast<int>(id.seq % static_cast<std::uint32_t>(window_)) *
                                          comm::kCollectiveTags +
                                      static_cast<int>(id.tag)
                                : static_cast<int>(x.tag);
  auto req = std::make_unique<MPI_Request>(MPI_REQUEST_NULL);
  const int n = static_cast<int>(x.bytes);
  if (x.send)
    ODY_MPI_CHECK(MPI_Isend(x.data, n, MPI_BYTE, x.peer, tag, comm_, req.get()));
  else
    ODY_MPI_CHECK(MPI_Irecv(x.data, n, MPI_BYTE, x.peer, tag, comm_, req.get()));
  return req.release();
}

bool Transport::test(Handle h) {
  std::unique_ptr<MPI_Request> req(static_cast<MPI_Request*>(h));
  int flag = 0;
  ODY_MPI_CHECK(MPI_Test(req.get(), &flag, MPI_STATUS_IGNORE));  // throws: released
  if (!flag) req.release();  // still in flight: the runner keeps it
  return flag != 0;
}

void Transport::cancel(Handle h) {
  std::unique_ptr<MPI_Request> req(static_cast<MPI_Request*>(h));
  MPI_Cancel(req.get());
  MPI_Request_free(req.get());
}

}  // namespace ody::backends::mpi
