#pragma once
// ody::comm::Communicator over a transport that only moves messages (post_send,
// post_recv, test): the host side of a plugin. PluginCommunicator
// (communicator.hpp) is this over a plugin's C ABI table; ody-plugin-overhead also wraps
// the example transport in it directly ("built in") to measure what the ABI crossing costs.
//
// Point to point (batch_p2p, send, recv) posts straight to the engine and returns a Work
// that tests its handles: no schedule, one allocation (the Work itself, from a per-thread
// free list). Collectives use the engine's own operation when native_*() provides one,
// otherwise a host Schedule over point to point on tags above the user range:
// kMaxP2PTag + 1 + (sequence mod 2^16) * kCollectiveTags + tag, the sequence counting the
// collectives of each tag, so operations of one tag match in issue order and different
// tags never mix; the engine must accept tags up to kMaxTagNeeded = 2^21 - 1.
//
// Progress: any Work's test()/wait() advances every schedule in flight on the
// communicator (and the engine's test() advances the engine's own operations), so waiting
// on one operation never starves another that a peer waits on.
//
// Waiting: wait() polls test() without sleeping. It yields the core between polls only
// when `yield_when_idle` is set (the derived class sets it when the host runs more ranks
// than it has cores, as OpenMPI's mpi_yield_when_idle) and then only after 1 ms of
// polling, so that an oversubscribed peer gets the core it needs while a message of up to
// ~16 MiB over shared memory still completes spinning.
//
// Threads: one thread at a time per communicator, its Works included (as the UCX
// backend), which serialises the calls into the engine (what ody_plugin.h promises
// plugins) without a lock. A mutex here cost ~0.15 µs per 8-byte exchange between two
// ranks: each poll's locked instructions stall behind the load of the shared-memory ring.
#include <mpi.h>

#include <cstdint>
#include <vector>

#include "backends/p2p/runner.hpp"
#include "comm/communicator.hpp"

namespace ody::backends::plugin {

class HostCommunicator : public comm::Communicator, protected p2p::Transport {
 public:
  static constexpr std::int64_t kMaxTagNeeded = (std::int64_t{1} << 21) - 1;

  ~HostCommunicator() override;

  // Advances every schedule in flight (what Work::test() does besides its own handles).
  void progress() { runner_.progress(); }
  bool yield_when_idle() const { return yield_when_idle_; }

  // For the Work types (defined in host_communicator.cpp).
  bool test_handle(Handle h) { return test(h); }

 protected:
  HostCommunicator(int rank, int size, comm::BackendInfo info, bool yield_when_idle);

  // The transport: tags as the plugin ABI's (0..kMaxTagNeeded here); test() as
  // p2p::Transport's.
  virtual Handle post_send(const void* data, std::size_t bytes, int peer, std::int64_t tag) = 0;
  virtual Handle post_recv(void* data, std::size_t bytes, int peer, std::int64_t tag) = 0;

  // The engine's own collectives (arguments validated; counts in elements; in place as in
  // comm/communicator.hpp). Return true with *h set when the engine started the operation,
  // false to let the host build it over point to point.
  virtual bool native_all_reduce(comm::ConstBuf send, comm::Buf recv, comm::ReduceOp op,
                                 comm::Tag tag, Handle* h) {
    return false;
  }
  virtual bool native_all_gather(comm::ConstBuf send, comm::Buf recv, comm::Tag tag, Handle* h) {
    return false;
  }
  virtual bool native_reduce_scatter(comm::ConstBuf send, comm::Buf recv, comm::ReduceOp op,
                                     comm::Tag tag, Handle* h) {
    return false;
  }
  virtual bool native_all_to_all(comm::ConstBuf send, comm::Buf recv, comm::Tag tag, Handle* h) {
    return false;
  }
  virtual bool native_broadcast(comm::Buf buffer, int root, comm::Tag tag, Handle* h) {
    return false;
  }
  virtual bool native_barrier(comm::Tag tag, Handle* h) { return false; }

  comm::WorkPtr do_all_reduce(comm::ConstBuf send, comm::Buf recv, comm::ReduceOp op,
                              comm::Tag tag) final;
  comm::WorkPtr do_all_gather(comm::ConstBuf send, comm::Buf recv, comm::Tag tag) final;
  comm::WorkPtr do_all_gather_v(comm::ConstBuf send, comm::Buf recv,
                                std::span<const std::int64_t> counts, comm::Tag tag) final;
  comm::WorkPtr do_reduce_scatter(comm::ConstBuf send, comm::Buf recv, comm::ReduceOp op,
                                  comm::Tag tag) final;
  comm::WorkPtr do_all_to_all(comm::ConstBuf send, comm::Buf recv, comm::Tag tag) final;
  comm::WorkPtr do_all_to_all_v(comm::ConstBuf send, std::span<const std::int64_t> send_counts,
                                comm::Buf recv, std::span<const std::int64_t> recv_counts,
                                comm::Tag tag) final;
  comm::WorkPtr do_broadcast(comm::Buf buffer, int root, comm::Tag tag) final;
  comm::WorkPtr do_barrier(comm::Tag tag) final;
  comm::WorkPtr do_batch_p2p(std::span<const comm::P2POp> ops) final;

 private:
  // p2p::Transport: a collective's messages all on its one tag (the ABI matches (peer,
  // tag) in posting order, which the schedules keep).
  Handle post(const p2p::Xfer& x, const p2p::OpId& id, p2p::Slot* slot) final;
  comm::WorkPtr start(p2p::Schedule s, comm::Tag tag);
  template <class Native>
  comm::WorkPtr try_native(Native&& native);

  bool yield_when_idle_;
  p2p::Runner runner_{*this};
};

// True when this host runs more ranks of `world` than it has online cores (collective
// over `world`).
bool host_oversubscribed(MPI_Comm world);

}  // namespace ody::backends::plugin
