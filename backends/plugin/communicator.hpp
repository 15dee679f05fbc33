#pragma once
// The plugin backend: ody::comm::Communicator over a plugin loaded by loader.hpp.
//
// A HostCommunicator (host_communicator.hpp: point-to-point Works, host collective
// schedules, progress, waiting) whose engine is the plugin's odyPlugin_v1 table: point to
// point goes to the plugin's isend/irecv (user tags unchanged), test to its test. A
// collective uses the plugin's own entry when it provides one (non-NULL and not
// UNSUPPORTED at run time), otherwise the host schedule over isend/irecv; the plugin must
// therefore accept tags up to 2^21 - 1.
//
// The host bootstraps each communicator over its own MPI communicator (a duplicate of
// MPI_COMM_WORLD, or MPI_Comm_split of the parent's for split()), whose all-gather it
// hands to the plugin's init.
//
// Traffic: counts_own_traffic = false, so the counters hold docs/traffic.md's
// algorithm-independent volumes, as for MPI, whether the plugin or the host runs the
// algorithm.
#include <mpi.h>

#include <memory>
#include <string_view>

#include "backends/plugin/host_communicator.hpp"
#include "backends/plugin/loader.hpp"

namespace ody::backends::plugin {

class PluginCommunicator final : public HostCommunicator {
 public:
  // Loads plugin `name` (loader.hpp) and creates its communicator over the ranks of
  // `parent` (e.g. MPI_COMM_WORLD; duplicated, it stays the caller's); collective.
  static std::unique_ptr<PluginCommunicator> create(std::string_view name, MPI_Comm parent);
  ~PluginCommunicator() override;

  const Library& library() const { return *lib_; }

 protected:
  std::unique_ptr<comm::Communicator> do_split(int color, int key) override;
  bool native_all_reduce(comm::ConstBuf send, comm::Buf recv, comm::ReduceOp op, comm::Tag tag,
                         Handle* h) override;
  bool native_all_gather(comm::ConstBuf send, comm::Buf recv, comm::Tag tag, Handle* h) override;
  bool native_reduce_scatter(comm::ConstBuf send, comm::Buf recv, comm::ReduceOp op, comm::Tag tag,
                             Handle* h) override;
  bool native_all_to_all(comm::ConstBuf send, comm::Buf recv, comm::Tag tag, Handle* h) override;
  bool native_broadcast(comm::Buf buffer, int root, comm::Tag tag, Handle* h) override;
  bool native_barrier(comm::Tag tag, Handle* h) override;

 private:
  PluginCommunicator(std::shared_ptr<const Library> lib, std::unique_ptr<MPI_Comm> mpi, int rank,
                     int size, comm::BackendInfo info, odyPluginComm_t handle,
                     bool yield_when_idle);
  static std::unique_ptr<PluginCommunicator> create(std::shared_ptr<const Library> lib,
                                                    MPI_Comm mpi, bool yield_when_idle);

  // The transport over the plugin.
  Handle post_send(const void* data, std::size_t bytes, int peer, std::int64_t tag) override;
  Handle post_recv(void* data, std::size_t bytes, int peer, std::int64_t tag) override;
  bool test(Handle h) override;

  // Runs a plugin collective entry; false when it is absent or declines.
  template <class F>
  bool native(F* entry, Handle* h, auto&&... args);
  [[noreturn]] void fail(const char* call) const;

  std::shared_ptr<const Library> lib_;
  const odyPlugin_v1_t* t_;
  std::unique_ptr<MPI_Comm> mpi_;  // the bootstrap's context pointer: stable address
  odyPluginComm_t handle_;
};

}  // namespace ody::backends::plugin
