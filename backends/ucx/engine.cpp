#include "backends/ucx/engine.hpp"

#include "backends/ucx/tag.hpp"

namespace ody::backends::ucx {

namespace {

// UCX's completion callback of a receive with local work: runs it at once.
void on_recv_complete(void*, ucs_status_t status, const ucp_tag_recv_info_t*, void* slot) {
  if (status != UCS_OK) return;  // the runner reports the failure through Worker::test
  static_cast<p2p::Slot*>(slot)->complete();
}

}  // namespace

Engine::Engine(MPI_Comm bootstrap, int rank, std::uint32_t comm_id)
    : worker_(std::make_unique<Worker>(bootstrap)), rank_(rank), comm_id_(comm_id) {}

p2p::Transport::Handle Engine::post(const p2p::Xfer& x, const p2p::OpId& id, p2p::Slot* slot) {
  const int source = x.send ? rank_ : x.peer;
  const std::uint64_t t = id.collective ? tag::collective(comm_id_, source, id.tag, id.seq, x.tag)
                                        : tag::p2p(comm_id_, source, x.tag);
  if (x.send) return worker_->send(x.peer, x.data, x.bytes, t);
  if (x.on_done) return worker_->recv(x.data, x.bytes, t, &on_recv_complete, slot);
  return worker_->recv(x.data, x.bytes, t);
}

void Engine::progress() {
  if (!worker_) return;
  worker_->progress();
  runner_.progress();
}

void Engine::shutdown() {
  if (!worker_) return;
  while (!runner_.idle()) progress();
  worker_.reset();
  runner_.release_failed();
}

}  // namespace ody::backends::ucx
