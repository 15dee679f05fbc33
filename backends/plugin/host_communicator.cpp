#include "backends/plugin/host_communicator.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <new>
#include <string>
#include <thread>

#include "backends/p2p/algorithms.hpp"
#include "backends/p2p/run_work.hpp"
#include "base/error.hpp"

namespace ody::backends::plugin {

namespace {

constexpr std::int64_t kTagBase = std::int64_t{comm::kMaxP2PTag} + 1;
constexpr std::uint32_t kSequenceWindow = 1u << 16;
static_assert(kTagBase + std::int64_t{kSequenceWindow} * comm::kCollectiveTags - 1 <=
              HostCommunicator::kMaxTagNeeded);

// Polls w.test() until it is true (the policy of host_communicator.hpp).
void poll_until_done(comm::Work& w, const HostCommunicator& c, std::chrono::milliseconds timeout) {
  comm::poll_until_done(
      [&w] { return w.test(); }, timeout,
      c.yield_when_idle() ? comm::IdlePolicy::yield_after_1ms : comm::IdlePolicy::spin,
      c.info().name.c_str());
}

// Work objects come from a small per-thread free list: the point-to-point path allocates
// one per operation, and this keeps it off malloc. A block freed on another thread joins
// that thread's list.
template <std::size_t Bytes>
class BlockCache {
 public:
  static void* get() {
    auto& c = cache();
    if (c.count == 0) return ::operator new(Bytes);
    return c.blocks[--c.count];
  }
  static void put(void* p) {
    auto& c = cache();
    if (c.count == kKeep) return ::operator delete(p);
    c.blocks[c.count++] = p;
  }

 private:
  static constexpr std::size_t kKeep = 32;
  struct Cache {
    void* blocks[kKeep];
    std::size_t count = 0;
    ~Cache() {
      while (count) ::operator delete(blocks[--count]);
    }
  };
  static Cache& cache() {
    thread_local Cache c;
    return c;
  }
};

// Handles the engine started for one operation (a batch of point-to-point messages or a
// native collective); complete when all are. A handle that failed is released by the
// engine: the failure is kept and rethrown by every later test().
class HandleWork final : public comm::Work {
 public:
  explicit HandleWork(HostCommunicator* comm) : comm_(comm) {}
  ~HandleWork() override {
    try {
      if (!finished_) wait(comm::kNoTimeout);
    } catch (...) {
      // A destructor cannot report the failure; wait() would have.
    }
  }
  static void* operator new(std::size_t bytes) {
    return bytes == sizeof(HandleWork) ? BlockCache<sizeof(HandleWork)>::get()
                                       : ::operator new(bytes);
  }
  static void operator delete(void* p, std::size_t bytes) {
    if (bytes == sizeof(HandleWork))
      BlockCache<sizeof(HandleWork)>::put(p);
    else
      ::operator delete(p);
  }

  void add(p2p::Transport::Handle h) {
    if (inline_count_ < kInline)
      inline_[inline_count_++] = h;
    else
      more_.push_back(h);
  }
  void set_failure(std::exception_ptr e) { failure_ = std::move(e); }

  bool test() override {
    if (finished_) return true;
    comm_->progress();
    // After a failure the other handles are still tested, so that the engine releases
    // them as they complete, but the failure is what test() reports from then on.
    test_all(inline_.data(), inline_count_);
    if (!more_.empty()) {
      std::size_t n = more_.size();
      test_all(more_.data(), n);
      more_.resize(n);
    }
    if (failure_) std::rethrow_exception(failure_);
    finished_ = inline_count_ == 0 && more_.empty();
    return finished_;
  }
  void wait(std::chrono::milliseconds timeout) override { poll_until_done(*this, *comm_, timeout); }

 private:
  static constexpr std::size_t kInline = 4;  // a ring step has 2, a native collective 1

  // Tests handles [0, n), removing those that completed or failed (n shrinks); keeps the
  // first failure.
  void test_all(p2p::Transport::Handle* h, std::size_t& n) {
    for (std::size_t i = 0; i < n;) {
      bool done = false;
      try {
        done = comm_->test_handle(h[i]);
      } catch (...) {
        if (!failure_) failure_ = std::current_exception();
        done = true;  // a failed handle is released by the engine
      }
      if (done)
        h[i] = h[--n];
      else
        ++i;
    }
  }

  HostCommunicator* comm_;
  std::array<p2p::Transport::Handle, kInline> inline_;
  std::size_t inline_count_ = 0;
  std::vector<p2p::Transport::Handle> more_;
  std::exception_ptr failure_;
  bool finished_ = false;
};

}  // namespace

bool host_oversubscribed(MPI_Comm world) {
  MPI_Comm local = MPI_COMM_NULL;
  if (MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local) != MPI_SUCCESS)
    return true;  // unknown: yield, the safe side for progress
  int local_size = 1;
  MPI_Comm_size(local, &local_size);
  MPI_Comm_free(&local);
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  return cores < 1 || local_size > cores;
}

HostCommunicator::HostCommunicator(int rank, int size, comm::BackendInfo info, bool yield_when_idle)
    : Communicator(rank, size, std::move(info)), yield_when_idle_(yield_when_idle) {}

HostCommunicator::~HostCommunicator() = default;

p2p::Transport::Handle HostCommunicator::post(const p2p::Xfer& x, const p2p::OpId& id, p2p::Slot*) {
  const std::int64_t tag =
      kTagBase + std::int64_t{id.seq % kSequenceWindow} * comm::kCollectiveTags + id.tag;
  return x.send ? post_send(x.data, x.bytes, x.peer, tag) : post_recv(x.data, x.bytes, x.peer, tag);
}

comm::WorkPtr HostCommunicator::start(p2p::Schedule s, comm::Tag tag) {
  return std::make_unique<p2p::RunWork<HostCommunicator*>>(
      this, runner_.start_collective(std::move(s), tag),
      yield_when_idle_ ? comm::IdlePolicy::yield_after_1ms : comm::IdlePolicy::spin,
      info().name.c_str());
}

template <class Native>
comm::WorkPtr HostCommunicator::try_native(Native&& native) {
  Handle h = nullptr;
  if (!native(&h)) return nullptr;
  auto work = std::make_unique<HandleWork>(this);
  work->add(h);
  return work;
}

// ---- operations ------------------------------------------------------------------------

comm::WorkPtr HostCommunicator::do_batch_p2p(std::span<const comm::P2POp> ops) {
  auto work = std::make_unique<HandleWork>(this);
  try {
    for (const auto& op : ops) {
      const auto bytes = static_cast<std::size_t>(op.buffer.bytes());
      work->add(op.kind == comm::P2POp::Kind::send
                    ? post_send(op.buffer.data, bytes, op.peer, op.tag)
                    : post_recv(op.buffer.data, bytes, op.peer, op.tag));
    }
  } catch (...) {
    work->set_failure(std::current_exception());  // reported by test()/wait(), as any failure
  }
  return work;
}

comm::WorkPtr HostCommunicator::do_all_reduce(comm::ConstBuf send, comm::Buf recv,
                                              comm::ReduceOp op, comm::Tag tag) {
  if (auto w = try_native([&](Handle* h) { return native_all_reduce(send, recv, op, tag, h); }))
    return w;
  return start(p2p::algorithms::all_reduce(send, recv, op, rank(), size()), tag);
}

comm::WorkPtr HostCommunicator::do_all_gather(comm::ConstBuf send, comm::Buf recv, comm::Tag tag) {
  if (auto w = try_native([&](Handle* h) { return native_all_gather(send, recv, tag, h); }))
    return w;
  return start(p2p::algorithms::all_gather(send, recv, rank(), size()), tag);
}

comm::WorkPtr HostCommunicator::do_all_gather_v(comm::ConstBuf send, comm::Buf recv,
                                                std::span<const std::int64_t> counts,
                                                comm::Tag tag) {
  return start(p2p::algorithms::all_gather_v(send, recv, counts, rank(), size()), tag);
}

comm::WorkPtr HostCommunicator::do_reduce_scatter(comm::ConstBuf send, comm::Buf recv,
                                                  comm::ReduceOp op, comm::Tag tag) {
  if (auto w = try_native([&](Handle* h) { return native_reduce_scatter(send, recv, op, tag, h); }))
    return w;
  return start(p2p::algorithms::reduce_scatter(send, recv, op, rank(), size()), tag);
}

comm::WorkPtr HostCommunicator::do_all_to_all(comm::ConstBuf send, comm::Buf recv, comm::Tag tag) {
  if (auto w = try_native([&](Handle* h) { return native_all_to_all(send, recv, tag, h); }))
    return w;
  return start(p2p::algorithms::all_to_all(send, recv, rank(), size()), tag);
}

comm::WorkPtr HostCommunicator::do_all_to_all_v(comm::ConstBuf send,
                                                std::span<const std::int64_t> send_counts,
                                                comm::Buf recv,
                                                std::span<const std::int64_t> recv_counts,
                                                comm::Tag tag) {
  return start(p2p::algorithms::all_to_all_v(send, send_counts, recv, recv_counts, rank(), size()),
               tag);
}

comm::WorkPtr HostCommunicator::do_broadcast(comm::Buf buffer, int root, comm::Tag tag) {
  if (auto w = try_native([&](Handle* h) { return native_broadcast(buffer, root, tag, h); }))
    return w;
  return start(p2p::algorithms::broadcast(buffer, root, rank(), size()), tag);
}

comm::WorkPtr HostCommunicator::do_barrier(comm::Tag tag) {
  if (auto w = try_native([&](Handle* h) { return native_barrier(tag, h); })) return w;
  return start(p2p::algorithms::barrier(rank(), size()), tag);
}

}  // namespace ody::backends::plugin
