#include "builtin.hpp"

#include <stdexcept>

#include "base/error.hpp"

namespace odyshm {

namespace {

int bootstrap_all_gather(void* ctx, const void* send, std::size_t bytes, void* recv) {
  const int n = static_cast<int>(bytes);
  return MPI_Allgather(send, n, MPI_BYTE, recv, n, MPI_BYTE, *static_cast<MPI_Comm*>(ctx)) ==
                 MPI_SUCCESS
             ? 0
             : 1;
}

ody::comm::BackendInfo builtin_info() {
  ody::comm::BackendInfo info;
  info.name = "shm-builtin";
  info.host_memory = true;
  info.device_memory = false;
  info.counts_own_traffic = false;
  return info;
}

int rank_of(MPI_Comm c) {
  int r = 0;
  MPI_Comm_rank(c, &r);
  return r;
}
int size_of(MPI_Comm c) {
  int s = 1;
  MPI_Comm_size(c, &s);
  return s;
}

}  // namespace

std::unique_ptr<BuiltinCommunicator> BuiltinCommunicator::create_world() {
  MPI_Comm dup = MPI_COMM_NULL;
  if (MPI_Comm_dup(MPI_COMM_WORLD, &dup) != MPI_SUCCESS)
    throw ody::Error("backend shm-builtin: MPI_Comm_dup of MPI_COMM_WORLD failed");
  const bool yield = ody::backends::plugin::host_oversubscribed(dup);
  return std::unique_ptr<BuiltinCommunicator>(new BuiltinCommunicator(dup, yield));
}

BuiltinCommunicator::BuiltinCommunicator(MPI_Comm mpi, bool yield_when_idle)
    : HostCommunicator(rank_of(mpi), size_of(mpi), builtin_info(), yield_when_idle),
      mpi_(std::make_unique<MPI_Comm>(mpi)) {
  try {
    endpoint_ = std::make_unique<Endpoint>(rank(), size(), bootstrap_all_gather, mpi_.get());
  } catch (const std::exception& e) {
    MPI_Comm_free(mpi_.get());
    throw ody::Error(std::string("backend shm-builtin: ") + e.what());
  }
}

BuiltinCommunicator::~BuiltinCommunicator() {
  endpoint_.reset();
  MPI_Comm_free(mpi_.get());
}

std::unique_ptr<ody::comm::Communicator> BuiltinCommunicator::do_split(int color, int key) {
  MPI_Comm sub = MPI_COMM_NULL;
  if (MPI_Comm_split(*mpi_, color < 0 ? MPI_UNDEFINED : color, key, &sub) != MPI_SUCCESS)
    throw ody::Error("backend shm-builtin: split: MPI_Comm_split failed");
  if (sub == MPI_COMM_NULL) return nullptr;
  return std::unique_ptr<BuiltinCommunicator>(new BuiltinCommunicator(sub, yield_when_idle()));
}

// Errors of the transport become ody::Error, as the plugin host's do.
BuiltinCommunicator::Handle BuiltinCommunicator::post_send(const void* data, std::size_t bytes,
                                                           int peer, std::int64_t tag) {
  try {
    return endpoint_->isend(data, bytes, peer, tag);
  } catch (const std::runtime_error& e) {
    throw ody::Error(std::string("backend shm-builtin: isend failed: ") + e.what());
  }
}

BuiltinCommunicator::Handle BuiltinCommunicator::post_recv(void* data, std::size_t bytes, int peer,
                                                           std::int64_t tag) {
  try {
    return endpoint_->irecv(data, bytes, peer, tag);
  } catch (const std::runtime_error& e) {
    throw ody::Error(std::string("backend shm-builtin: irecv failed: ") + e.what());
  }
}

bool BuiltinCommunicator::test(Handle h) {
  try {
    return endpoint_->test(static_cast<Request*>(h));
  } catch (const std::runtime_error& e) {
    throw ody::Error(std::string("backend shm-builtin: test failed: ") + e.what());
  }
}

}  // namespace odyshm
