#pragma once
// One UCP worker with an endpoint to every rank of a communicator (itself included), set
// up through MPI: the worker addresses are exchanged with MPI_Allgather/Allgatherv over
// the communicator's bootstrap MPI communicator, which carries nothing else.
//
// The UCP context (ucp_init, feature TAG) is shared by every worker of the process and
// released with the last one. UCX reads its UCX_* environment variables at that point
// (e.g. UCX_TLS; see docs/backends.md for what works here); settings the environment
// leaves unset may get this backend's defaults (kDefaults in worker.cpp, via
// ucp_config_modify).
//
// Single-threaded: the worker is created with UCS_THREAD_MODE_SINGLE; one thread at a
// time may use a Worker.
#include <mpi.h>
#include <ucp/api/ucp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace ody::backends::ucx {

class Context;

class Worker {
 public:
  // Collective over `bootstrap` (rank/size are taken from it).
  explicit Worker(MPI_Comm bootstrap);
  // Collective: flushes and closes every endpoint, then waits on an MPI barrier over the
  // bootstrap communicator (progressing the worker) before the worker is destroyed, so no
  // peer still needs it.
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Non-blocking tagged send / receive of contiguous host bytes. Return nullptr when the
  // operation completed immediately, else a UCP request to poll with test() and free.
  // A receive may name a callback that UCX calls, from inside progress(), as soon as that
  // message completed (not when it completed immediately, i.e. when recv returns nullptr).
  void* send(int peer, const void* data, std::size_t bytes, std::uint64_t tag);
  void* recv(void* data, std::size_t bytes, std::uint64_t tag,
             ucp_tag_recv_nbx_callback_t on_complete = nullptr, void* user_data = nullptr);
  // True when the request completed (and frees it); throws ody::Error when it failed.
  static bool test(void* request);
  // Cancels a request this code will no longer test (its operation failed); UCX frees it
  // with the worker.
  void cancel(void* request);
  // One round of ucp_worker_progress until it reports no more events.
  void progress();

 private:
  std::shared_ptr<Context> context_;
  ucp_worker_h worker_ = nullptr;
  std::vector<ucp_ep_h> eps_;
  MPI_Comm bootstrap_;
};

}  // namespace ody::backends::ucx
