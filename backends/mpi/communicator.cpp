#include "backends/mpi/communicator.hpp"

#include <chrono>
#include <climits>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "backends/mpi/check.hpp"
#include "backends/mpi/datatypes.hpp"
#include "backends/mpi/transport.hpp"
#include "backends/p2p/algorithms.hpp"
#include "backends/p2p/run_work.hpp"
#include "base/error.hpp"
#include "comm/reduce.hpp"

namespace ody::backends::mpi {

namespace {

using comm::Buf;
using comm::ConstBuf;
using comm::ReduceOp;
using comm::Tag;
using comm::WorkPtr;

// A set of MPI requests plus what must happen once they complete (avg division) and
// what must live until then (scratch copies, count arrays).
class MpiWork final : public comm::Work {
 public:
  MpiWork() = default;
  ~MpiWork() override {
    // An operation cannot be abandoned while MPI may still write into its buffers.
    if (!done_) {
      try {
        wait(comm::kNoTimeout);
      } catch (...) {
      }
    }
  }

  bool test() override {
    if (done_) return true;
    int flag = 0;
    ODY_MPI_CHECK(MPI_Testall(static_cast<int>(requests.size()), requests.data(), &flag,
                              MPI_STATUSES_IGNORE));
    if (flag) complete();
    return done_;
  }

  void wait(std::chrono::milliseconds timeout) override {
    if (done_) return;
    if (timeout < std::chrono::milliseconds::zero()) {
      ODY_MPI_CHECK(
          MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE));
      complete();
      return;
    }
    comm::poll_until_done([this] { return test(); }, timeout, comm::IdlePolicy::yield, "mpi");
  }

  std::vector<MPI_Request> requests;
  std::function<void()> on_complete;  // runs once, after every request finished
  std::vector<std::byte> scratch;     // e.g. the send copy of an in-place all-to-all
  std::vector<int> counts, displs, counts2, displs2;

 private:
  void complete() {
    done_ = true;
    if (on_complete) on_complete();
  }
  bool done_ = false;
};

MPI_Request* new_request(MpiWork& w) {
  w.requests.push_back(MPI_REQUEST_NULL);
  return &w.requests.back();
}

const void* send_ptr(ConstBuf send, const void* recv) {
  return send.data == recv ? MPI_IN_PLACE : send.data;
}

void to_int_counts(std::span<const std::int64_t> counts, std::vector<int>& out,
                   std::vector<int>& displs, const char* where) {
  out.resize(counts.size());
  displs.resize(counts.size());
  std::int64_t offset = 0;
  for (std::size_t j = 0; j < counts.size(); ++j) {
    ODY_REQUIRE(offset <= INT_MAX, std::string(where) + ": counts",
                "a packed total within MPI's int range", offset);
    out[j] = static_cast<int>(counts[j]);
    displs[j] = static_cast<int>(offset);
    offset += counts[j];
  }
}

}  // namespace

// ---- construction ---------------------------------------------------------------------

MpiCommunicator::MpiCommunicator(MPI_Comm comm, int rank, int size)
    : Communicator(rank, size, comm::BackendInfo{"mpi", true, false, false}) {
  comms_[0] = comm;
  ODY_MPI_CHECK(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN));
  for (std::size_t t = 1; t < comms_.size(); ++t) ODY_MPI_CHECK(MPI_Comm_dup(comm, &comms_[t]));
  transport_ = std::make_unique<Transport>(comm);
  runner_ = std::make_shared<p2p::Runner>(*transport_);
}

std::unique_ptr<MpiCommunicator> MpiCommunicator::duplicate(MPI_Comm parent) {
  int initialized = 0;
  ODY_MPI_CHECK(MPI_Initialized(&initialized));
  if (!initialized)
    throw Error("mpi backend", "MPI initialised (construct ody::backends::mpi::Environment first)",
                "MPI not initialised");
  MPI_Comm dup;
  ODY_MPI_CHECK(MPI_Comm_dup(parent, &dup));
  int rank = 0, size = 0;
  ODY_MPI_CHECK(MPI_Comm_rank(dup, &rank));
  ODY_MPI_CHECK(MPI_Comm_size(dup, &size));
  return std::unique_ptr<MpiCommunicator>(new MpiCommunicator(dup, rank, size));
}

MpiCommunicator::~MpiCommunicator() {
  // Works outlive their communicator only if the caller broke the contract; finish ours.
  while (runner_ && !runner_->idle()) runner_->progress();
  runner_.reset();
  transport_.reset();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  for (auto& c : comms_)
    if (c != MPI_COMM_NULL) MPI_Comm_free(&c);
}

std::unique_ptr<comm::Communicator> MpiCommunicator::do_split(int color, int key) {
  MPI_Comm out;
  ODY_MPI_CHECK(MPI_Comm_split(comms_[0], color < 0 ? MPI_UNDEFINED : color, key, &out));
  if (out == MPI_COMM_NULL) return nullptr;
  int rank = 0, size = 0;
  ODY_MPI_CHECK(MPI_Comm_rank(out, &rank));
  ODY_MPI_CHECK(MPI_Comm_size(out, &size));
  return std::unique_ptr<comm::Communicator>(new MpiCommunicator(out, rank, size));
}

void MpiCommunicator::check_count_limit(const char* where, std::int64_t count) const {
  ODY_REQUIRE(count <= INT_MAX, std::string(where) + ": count",
              "at most " + std::to_string(INT_MAX) + " elements (MPI counts are int)", count);
}

// ---- algorithms ------------------------------------------------------------------------

std::vector<std::string> MpiCommunicator::algorithms(comm::OpKind kind) const {
  using K = comm::OpKind;
  switch (kind) {
    case K::allreduce:
    case K::allgather:
    case K::allgatherv:
    case K::reducescatter:
      return {"native", "ring"};
    case K::alltoall:
    case K::alltoallv:
      return {"native", "pairwise"};
    case K::broadcast:
      return {"native", "binomial"};
    default:
      return {"native"};
  }
}

std::string MpiCommunicator::default_algorithm(comm::OpKind kind, std::int64_t bytes) const {
  constexpr std::int64_t kRingFrom = std::int64_t{64} << 10;
  if ((kind == comm::OpKind::reducescatter || kind == comm::OpKind::allreduce) &&
      bytes >= kRingFrom && size() > 1)
    return "ring";
  return "native";
}

template <class Build>
WorkPtr MpiCommunicator::scheduled(comm::OpKind kind, std::int64_t bytes, Tag tag, Build&& build) {
  if (native(kind, bytes)) return nullptr;
  return std::make_unique<p2p::RunWork<std::shared_ptr<p2p::Runner>>>(
      runner_, runner_->start_collective(build(), tag), comm::IdlePolicy::yield_after_1ms, "mpi");
}

// ---- collectives ------------------------------------------------------------------------

WorkPtr MpiCommunicator::do_all_reduce(ConstBuf send, Buf recv, ReduceOp op, Tag tag) {
  if (auto s = scheduled(comm::OpKind::allreduce, send.bytes(), tag, [&] {
        return p2p::algorithms::all_reduce(send, recv, op, rank(), size());
      }))
    return s;
  auto w = std::make_unique<MpiWork>();
  ODY_MPI_CHECK(MPI_Iallreduce(send_ptr(send, recv.data), recv.data, static_cast<int>(send.count),
                               to_mpi(send.dtype), to_mpi(send.dtype, op), comms_[tag],
                               new_request(*w)));
  if (op == ReduceOp::avg)
    w->on_complete = [recv, p = size()] {
      comm::divide_in_place(recv.data, recv.count, recv.dtype, p);
    };
  return w;
}

WorkPtr MpiCommunicator::do_all_gather(ConstBuf send, Buf recv, Tag tag) {
  if (auto s = scheduled(comm::OpKind::allgather, send.bytes() * size(), tag,
                         [&] { return p2p::algorithms::all_gather(send, recv, rank(), size()); }))
    return s;
  auto w = std::make_unique<MpiWork>();
  const std::size_t es = comm::dtype_size(send.dtype);
  const void* own = static_cast<const char*>(recv.data) + rank() * send.count * es;
  ODY_MPI_CHECK(MPI_Iallgather(
      send.data == own ? MPI_IN_PLACE : send.data, static_cast<int>(send.count), to_mpi(send.dtype),
      recv.data, static_cast<int>(send.count), to_mpi(send.dtype), comms_[tag], new_request(*w)));
  return w;
}

WorkPtr MpiCommunicator::do_all_gather_v(ConstBuf send, Buf recv,
                                         std::span<const std::int64_t> counts, Tag tag) {
  if (auto s = scheduled(comm::OpKind::allgatherv, recv.bytes(), tag, [&] {
        return p2p::algorithms::all_gather_v(send, recv, counts, rank(), size());
      }))
    return s;
  auto w = std::make_unique<MpiWork>();
  to_int_counts(counts, w->counts, w->displs, "all_gather_v");
  const void* own = static_cast<const char*>(recv.data) +
                    static_cast<std::int64_t>(w->displs[rank()]) * comm::dtype_size(send.dtype);
  ODY_MPI_CHECK(MPI_Iallgatherv(send.data == own ? MPI_IN_PLACE : send.data,
                                static_cast<int>(send.count), to_mpi(send.dtype), recv.data,
                                w->counts.data(), w->displs.data(), to_mpi(send.dtype), comms_[tag],
                                new_request(*w)));
  return w;
}

WorkPtr MpiCommunicator::do_reduce_scatter(ConstBuf send, Buf recv, ReduceOp op, Tag tag) {
  if (auto s = scheduled(comm::OpKind::reducescatter, send.bytes(), tag, [&] {
        return p2p::algorithms::reduce_scatter(send, recv, op, rank(), size());
      }))
    return s;
  auto w = std::make_unique<MpiWork>();
  // In place (send == recv): MPI reads the whole buffer and leaves the result at its start.
  ODY_MPI_CHECK(MPI_Ireduce_scatter_block(send_ptr(send, recv.data), recv.data,
                                          static_cast<int>(recv.count), to_mpi(send.dtype),
                                          to_mpi(send.dtype, op), comms_[tag], new_request(*w)));
  if (op == ReduceOp::avg)
    w->on_complete = [recv, p = size()] {
      comm::divide_in_place(recv.data, recv.count, recv.dtype, p);
    };
  return w;
}

WorkPtr MpiCommunicator::do_all_to_all(ConstBuf send, Buf recv, Tag tag) {
  if (auto s = scheduled(comm::OpKind::alltoall, send.bytes(), tag,
                         [&] { return p2p::algorithms::all_to_all(send, recv, rank(), size()); }))
    return s;
  auto w = std::make_unique<MpiWork>();
  const void* src = send.data;
  if (send.data == recv.data && send.count > 0) {
    // MPI_IN_PLACE for non-blocking all-to-all is not reliable across MPI versions: copy.
    w->scratch.resize(static_cast<std::size_t>(send.bytes()));
    std::memcpy(w->scratch.data(), send.data, w->scratch.size());
    src = w->scratch.data();
  }
  const int block = static_cast<int>(send.count / size());
  ODY_MPI_CHECK(MPI_Ialltoall(src, block, to_mpi(send.dtype), recv.data, block, to_mpi(send.dtype),
                              comms_[tag], new_request(*w)));
  return w;
}

WorkPtr MpiCommunicator::do_all_to_all_v(ConstBuf send, std::span<const std::int64_t> send_counts,
                                         Buf recv, std::span<const std::int64_t> recv_counts,
                                         Tag tag) {
  if (auto s = scheduled(comm::OpKind::alltoallv, std::max(send.bytes(), recv.bytes()), tag, [&] {
        return p2p::algorithms::all_to_all_v(send, send_counts, recv, recv_counts, rank(), size());
      }))
    return s;
  auto w = std::make_unique<MpiWork>();
  to_int_counts(send_counts, w->counts, w->displs, "all_to_all_v");
  to_int_counts(recv_counts, w->counts2, w->displs2, "all_to_all_v");
  ODY_MPI_CHECK(MPI_Ialltoallv(send.data, w->counts.data(), w->displs.data(), to_mpi(send.dtype),
                               recv.data, w->counts2.data(), w->displs2.data(), to_mpi(send.dtype),
                               comms_[tag], new_request(*w)));
  return w;
}

WorkPtr MpiCommunicator::do_broadcast(Buf buffer, int root, Tag tag) {
  if (auto s = scheduled(comm::OpKind::broadcast, buffer.bytes(), tag,
                         [&] { return p2p::algorithms::broadcast(buffer, root, rank(), size()); }))
    return s;
  auto w = std::make_unique<MpiWork>();
  ODY_MPI_CHECK(MPI_Ibcast(buffer.data, static_cast<int>(buffer.count), to_mpi(buffer.dtype), root,
                           comms_[tag], new_request(*w)));
  return w;
}

WorkPtr MpiCommunicator::do_barrier(Tag tag) {
  auto w = std::make_unique<MpiWork>();
  ODY_MPI_CHECK(MPI_Ibarrier(comms_[tag], new_request(*w)));
  return w;
}

// ---- blocking collectives --------------------------------------------------------------

// Each runs the async form and waits when the operation runs one of the project's own
// algorithms.
void MpiCommunicator::do_all_reduce_blocking(ConstBuf send, Buf recv, ReduceOp op, Tag tag) {
  if (!native(comm::OpKind::allreduce, send.bytes()))
    return do_all_reduce(send, recv, op, tag)->wait();
  ODY_MPI_CHECK(MPI_Allreduce(send_ptr(send, recv.data), recv.data, static_cast<int>(send.count),
                              to_mpi(send.dtype), to_mpi(send.dtype, op), comms_[tag]));
  if (op == ReduceOp::avg) comm::divide_in_place(recv.data, recv.count, recv.dtype, size());
}

void MpiCommunicator::do_all_gather_blocking(ConstBuf send, Buf recv, Tag tag) {
  if (!native(comm::OpKind::allgather, send.bytes() * size()))
    return do_all_gather(send, recv, tag)->wait();
  const std::size_t es = comm::dtype_size(send.dtype);
  const void* own = static_cast<const char*>(recv.data) + rank() * send.count * es;
  ODY_MPI_CHECK(MPI_Allgather(send.data == own ? MPI_IN_PLACE : send.data,
                              static_cast<int>(send.count), to_mpi(send.dtype), recv.data,
                              static_cast<int>(send.count), to_mpi(send.dtype), comms_[tag]));
}

void MpiCommunicator::do_all_gather_v_blocking(ConstBuf send, Buf recv,
                                               std::span<const std::int64_t> counts, Tag tag) {
  if (!native(comm::OpKind::allgatherv, recv.bytes()))
    return do_all_gather_v(send, recv, counts, tag)->wait();
  std::vector<int> c, d;
  to_int_counts(counts, c, d, "all_gather_v");
  const void* own = static_cast<const char*>(recv.data) +
                    static_cast<std::int64_t>(d[rank()]) * comm::dtype_size(send.dtype);
  ODY_MPI_CHECK(MPI_Allgatherv(send.data == own ? MPI_IN_PLACE : send.data,
                               static_cast<int>(send.count), to_mpi(send.dtype), recv.data,
                               c.data(), d.data(), to_mpi(send.dtype), comms_[tag]));
}

void MpiCommunicator::do_reduce_scatter_blocking(ConstBuf send, Buf recv, ReduceOp op, Tag tag) {
  if (!native(comm::OpKind::reducescatter, send.bytes()))
    return do_reduce_scatter(send, recv, op, tag)->wait();
  ODY_MPI_CHECK(MPI_Reduce_scatter_block(send_ptr(send, recv.data), recv.data,
                                         static_cast<int>(recv.count), to_mpi(send.dtype),
                                         to_mpi(send.dtype, op), comms_[tag]));
  if (op == ReduceOp::avg) comm::divide_in_place(recv.data, recv.count, recv.dtype, size());
}

void MpiCommunicator::do_all_to_all_blocking(ConstBuf send, Buf recv, Tag tag) {
  if (!native(comm::OpKind::alltoall, send.bytes())) return do_all_to_all(send, recv, tag)->wait();
  const int block = static_cast<int>(send.count / size());
  ODY_MPI_CHECK(MPI_Alltoall(send.data == recv.data ? MPI_IN_PLACE : send.data, block,
                             to_mpi(send.dtype), recv.data, block, to_mpi(send.dtype),
                             comms_[tag]));
}

void MpiCommunicator::do_all_to_all_v_blocking(ConstBuf send,
                                               std::span<const std::int64_t> send_counts, Buf recv,
                                               std::span<const std::int64_t> recv_counts, Tag tag) {
  if (!native(comm::OpKind::alltoallv, std::max(send.bytes(), recv.bytes())))
    return do_all_to_all_v(send, send_counts, recv, recv_counts, tag)->wait();
  std::vector<int> sc, sd, rc, rd;
  to_int_counts(send_counts, sc, sd, "all_to_all_v");
  to_int_counts(recv_counts, rc, rd, "all_to_all_v");
  ODY_MPI_CHECK(MPI_Alltoallv(send.data, sc.data(), sd.data(), to_mpi(send.dtype), recv.data,
                              rc.data(), rd.data(), to_mpi(send.dtype), comms_[tag]));
}

void MpiCommunicator::do_broadcast_blocking(Buf buffer, int root, Tag tag) {
  if (!native(comm::OpKind::broadcast, buffer.bytes()))
    return do_broadcast(buffer, root, tag)->wait();
  ODY_MPI_CHECK(MPI_Bcast(buffer.data, static_cast<int>(buffer.count), to_mpi(buffer.dtype), root,
                          comms_[tag]));
}

void MpiCommunicator::do_barrier_blocking(Tag tag) { ODY_MPI_CHECK(MPI_Barrier(comms_[tag])); }

// ---- point to point ---------------------------------------------------------------------

WorkPtr MpiCommunicator::do_batch_p2p(std::span<const comm::P2POp> ops) {
  auto w = std::make_unique<MpiWork>();
  w->requests.reserve(ops.size());
  // Receives first, so that a batch that sends to itself finds its receive posted.
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& op : ops) {
      const bool is_recv = op.kind == comm::P2POp::Kind::recv;
      if (is_recv != (pass == 0)) continue;
      const int n = static_cast<int>(op.buffer.count);
      if (is_recv)
        ODY_MPI_CHECK(MPI_Irecv(op.buffer.data, n, to_mpi(op.buffer.dtype), op.peer, op.tag,
                                comms_[0], new_request(*w)));
      else
        ODY_MPI_CHECK(MPI_Isend(op.buffer.data, n, to_mpi(op.buffer.dtype), op.peer, op.tag,
                                comms_[0], new_request(*w)));
    }
  }
  return w;
}

}  // namespace ody::backends::mpi
