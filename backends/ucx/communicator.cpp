#include "backends/ucx/communicator.hpp"

#include <chrono>
#include <string>
#include <thread>

#include "backends/mpi/check.hpp"
#include "backends/p2p/algorithms.hpp"
#include "backends/p2p/run_work.hpp"
#include "backends/ucx/engine.hpp"
#include "backends/ucx/tag.hpp"
#include "base/error.hpp"

namespace ody::backends::ucx {

namespace {

using comm::Buf;
using comm::ConstBuf;
using comm::ReduceOp;
using comm::Tag;
using comm::WorkPtr;

// Busy polling, as OpenMPI does when ranks do not outnumber cores: yielding the core
// between polls cost 10-50 us per small collective on this loaded machine.
using UcxWork = p2p::RunWork<std::shared_ptr<Engine>>;

// An id for a new communicator, the same on every member: one more than the largest id
// any member has handed out (process-wide counter), agreed over `bootstrap`.
std::uint32_t agree_id(MPI_Comm bootstrap) {
  static std::uint32_t next = 0;
  std::uint32_t id = next;
  ODY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &id, 1, MPI_UINT32_T, MPI_MAX, bootstrap));
  next = id + 1;
  return id & static_cast<std::uint32_t>(tag::kCommMask);
}

}  // namespace

// ---- construction ---------------------------------------------------------------------

UcxCommunicator::UcxCommunicator(MPI_Comm bootstrap, int rank, int size)
    : Communicator(rank, size, comm::BackendInfo{"ucx", true, false, true}), bootstrap_(bootstrap) {
  ODY_MPI_CHECK(MPI_Comm_set_errhandler(bootstrap_, MPI_ERRORS_RETURN));
  ODY_REQUIRE(size <= tag::kMaxRanks, "ucx backend: size",
              "at most " + std::to_string(tag::kMaxRanks) + " ranks (tag.hpp)", size);
  id_ = agree_id(bootstrap_);
  engine_ = std::make_shared<Engine>(bootstrap_, rank, id_);
}

std::unique_ptr<UcxCommunicator> UcxCommunicator::create(MPI_Comm parent) {
  int initialized = 0;
  ODY_MPI_CHECK(MPI_Initialized(&initialized));
  if (!initialized)
    throw Error("ucx backend", "MPI initialised (construct ody::backends::mpi::Environment first)",
                "MPI not initialised");
  MPI_Comm dup;
  ODY_MPI_CHECK(MPI_Comm_dup(parent, &dup));
  int rank = 0, size = 0;
  ODY_MPI_CHECK(MPI_Comm_rank(dup, &rank));
  ODY_MPI_CHECK(MPI_Comm_size(dup, &size));
  return std::unique_ptr<UcxCommunicator>(new UcxCommunicator(dup, rank, size));
}

UcxCommunicator::~UcxCommunicator() {
  try {
    engine_->shutdown();
  } catch (...) {
  }
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Comm_free(&bootstrap_);
}

std::unique_ptr<comm::Communicator> UcxCommunicator::do_split(int color, int key) {
  MPI_Comm out;
  ODY_MPI_CHECK(MPI_Comm_split(bootstrap_, color < 0 ? MPI_UNDEFINED : color, key, &out));
  if (out == MPI_COMM_NULL) return nullptr;
  int rank = 0, size = 0;
  ODY_MPI_CHECK(MPI_Comm_rank(out, &rank));
  ODY_MPI_CHECK(MPI_Comm_size(out, &size));
  return std::unique_ptr<comm::Communicator>(new UcxCommunicator(out, rank, size));
}

// ---- operations -----------------------------------------------------------------------

WorkPtr UcxCommunicator::collective(comm::OpKind kind, p2p::Schedule&& s, Tag tag) {
  traffic_counters().add(kind, s.bytes_sent(), s.bytes_recv());
  auto op = engine_->start_collective(std::move(s), tag);
  return std::make_unique<UcxWork>(engine_, std::move(op), comm::IdlePolicy::spin, "ucx");
}

WorkPtr UcxCommunicator::do_all_reduce(ConstBuf send, Buf recv, ReduceOp op, Tag tag) {
  return collective(comm::OpKind::allreduce,
                    p2p::algorithms::all_reduce(send, recv, op, rank(), size()), tag);
}

WorkPtr UcxCommunicator::do_all_gather(ConstBuf send, Buf recv, Tag tag) {
  return collective(comm::OpKind::allgather,
                    p2p::algorithms::all_gather(send, recv, rank(), size()), tag);
}

WorkPtr UcxCommunicator::do_all_gather_v(ConstBuf send, Buf recv,
                                         std::span<const std::int64_t> counts, Tag tag) {
  return collective(comm::OpKind::allgatherv,
                    p2p::algorithms::all_gather_v(send, recv, counts, rank(), size()), tag);
}

WorkPtr UcxCommunicator::do_reduce_scatter(ConstBuf send, Buf recv, ReduceOp op, Tag tag) {
  return collective(comm::OpKind::reducescatter,
                    p2p::algorithms::reduce_scatter(send, recv, op, rank(), size()), tag);
}

WorkPtr UcxCommunicator::do_all_to_all(ConstBuf send, Buf recv, Tag tag) {
  return collective(comm::OpKind::alltoall, p2p::algorithms::all_to_all(send, recv, rank(), size()),
                    tag);
}

WorkPtr UcxCommunicator::do_all_to_all_v(ConstBuf send, std::span<const std::int64_t> send_counts,
                                         Buf recv, std::span<const std::int64_t> recv_counts,
                                         Tag tag) {
  return collective(
      comm::OpKind::alltoallv,
      p2p::algorithms::all_to_all_v(send, send_counts, recv, recv_counts, rank(), size()), tag);
}

WorkPtr UcxCommunicator::do_broadcast(Buf buffer, int root, Tag tag) {
  return collective(comm::OpKind::broadcast,
                    p2p::algorithms::broadcast(buffer, root, rank(), size()), tag);
}

WorkPtr UcxCommunicator::do_barrier(Tag tag) {
  return collective(comm::OpKind::barrier, p2p::algorithms::barrier(rank(), size()), tag);
}

WorkPtr UcxCommunicator::do_batch_p2p(std::span<const comm::P2POp> ops) {
  for (const auto& op : ops) {
    const auto bytes = static_cast<std::uint64_t>(op.buffer.bytes());
    if (op.kind == comm::P2POp::Kind::send)
      traffic_counters().add(comm::OpKind::send, bytes, 0);
    else
      traffic_counters().add(comm::OpKind::recv, 0, bytes);
  }
  auto op = engine_->start_p2p(p2p::algorithms::point_to_point(ops));
  return std::make_unique<UcxWork>(engine_, std::move(op), comm::IdlePolicy::spin, "ucx");
}

}  // namespace ody::backends::ucx
