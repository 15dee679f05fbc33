#pragma once
// The shared-memory transport as a built-in backend: a HostCommunicator
// (backends/plugin/host_communicator.hpp) whose engine calls odyshm::Endpoint directly,
// with no dlopen and no odyPlugin_v1 table. It is what "plugin:shm" would be if the
// transport were compiled into libodysseus; ody-plugin-overhead compares the two, so that
// the difference is exactly the plugin ABI crossing (the Communicator layer, validation,
// traffic counters and Work, which every backend pays, being the same on both sides).
#include <mpi.h>

#include <memory>
#include <span>

#include "backends/plugin/host_communicator.hpp"
#include "transport.hpp"

namespace odyshm {

class BuiltinCommunicator final : public ody::backends::plugin::HostCommunicator {
 public:
  // Collective over MPI_COMM_WORLD.
  static std::unique_ptr<BuiltinCommunicator> create_world();
  ~BuiltinCommunicator() override;

  // The batch_p2p hook called without the Communicator layer above it (no validation,
  // traffic counters or trace): ody-plugin-overhead's "adapter" column, which splits the
  // built-in's cost over the raw transport into host adapter and Communicator layer.
  // Arguments must be valid.
  ody::comm::WorkPtr batch_p2p_hook_only(std::span<const ody::comm::P2POp> ops) {
    return do_batch_p2p(ops);
  }

 protected:
  std::unique_ptr<ody::comm::Communicator> do_split(int color, int key) override;

 private:
  BuiltinCommunicator(MPI_Comm mpi, bool yield_when_idle);
  Handle post_send(const void* data, std::size_t bytes, int peer, std::int64_t tag) override;
  Handle post_recv(void* data, std::size_t bytes, int peer, std::int64_t tag) override;
  bool test(Handle h) override;

  std::unique_ptr<MPI_Comm> mpi_;  // bootstrap context: stable address
  std::unique_ptr<Endpoint> endpoint_;
};

}  // namespace odyshm
