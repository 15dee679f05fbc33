#pragma once
// The plugin backend: ody::comm::Communicator over a plugin loaded by loader.hpp.
//
// Point to point goes to the plugin's isend/irecv (user tags unchanged). Collectives use
// the plugin's own entry when it provides one (non-NULL and not UNSUPPORTED at run time),
// otherwise p2p_collectives.hpp builds them over isend/irecv on tags above the user range:
// kMaxP2PTag + 1 + (sequence mod 2^16) * kCollectiveTags + tag, the sequence counting the
// collectives of each tag, so operations of one tag match in issue order and different
// tags never mix. The plugin must therefore accept tags up to 2^21 - 1.
//
// Progress: any Work's test()/wait() advances every operation in flight on the
// communicator, so waiting on one operation never starves another that a peer waits on.
//
// The host bootstraps each communicator over its own MPI communicator (a duplicate of
// MPI_COMM_WORLD, or MPI_Comm_split of the parent's for split()), whose all-gather it
// hands to the plugin's init.
//
// Traffic: counts_own_traffic = false, so the counters hold docs/traffic.md's
// algorithm-independent volumes, as for MPI, whether the plugin or the host runs the
// algorithm.
#include <mpi.h>

#include <array>
#include <list>
#include <memory>
#include <mutex>
#include <string_view>

#include "backends/plugin/loader.hpp"
#include "backends/plugin/p2p_collectives.hpp"
#include "comm/communicator.hpp"

namespace ody::backends::plugin {

class PluginCommunicator final : public comm::Communicator, private P2PEngine {
 public:
  // Loads plugin `name` (loader.hpp) and creates its world communicator; collective
  // over MPI_COMM_WORLD.
  static std::unique_ptr<PluginCommunicator> create_world(std::string_view name);
  ~PluginCommunicator() override;

  const Library& library() const { return *lib_; }
  // Advances every operation in flight (what Work::test() does).
  void progress();
  // Completes the schedule; used by Work.
  bool test_schedule(Schedule& s);

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
  PluginCommunicator(std::shared_ptr<const Library> lib, std::unique_ptr<MPI_Comm> mpi, int rank,
                     int size, comm::BackendInfo info, odyPluginComm_t handle);
  static std::unique_ptr<PluginCommunicator> create(std::shared_ptr<const Library> lib,
                                                    MPI_Comm mpi);

  // P2PEngine over the plugin.
  Handle post_send(const void* data, std::size_t bytes, int peer, std::int64_t tag) override;
  Handle post_recv(void* data, std::size_t bytes, int peer, std::int64_t tag) override;
  bool test(Handle h) override;

  std::int64_t collective_tag(comm::Tag tag);
  comm::WorkPtr start(std::unique_ptr<Schedule> s);
  // Runs a plugin collective entry; nullptr when it is absent or declines.
  template <class F>
  std::unique_ptr<Schedule> native(F* entry, auto&&... args);
  [[noreturn]] void fail(const char* call) const;

  std::shared_ptr<const Library> lib_;
  const odyPlugin_v1_t* t_;
  std::unique_ptr<MPI_Comm> mpi_;  // the bootstrap's context pointer: stable address
  odyPluginComm_t handle_;
  std::recursive_mutex mutex_;
  std::list<std::shared_ptr<Schedule>> active_;
  std::array<std::uint32_t, comm::kCollectiveTags> sequence_{};
};

}  // namespace ody::backends::plugin
