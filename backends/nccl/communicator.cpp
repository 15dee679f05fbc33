#include "backends/nccl/communicator.hpp"

#include <array>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "backends/mpi/check.hpp"
#include "backends/nccl/check.hpp"
#include "backends/nccl/datatypes.hpp"
#include "base/error.hpp"

namespace ody::backends::nccl {

namespace {

constexpr int kLanes = comm::kCollectiveTags + 1;  // one per collective tag, then p2p
constexpr int kP2P = comm::kCollectiveTags;

// One NCCL communicator with its stream.
struct Lane {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
};

// A Work: an event recorded on the lane's stream after the operation.
class EventWork final : public comm::Work {
 public:
  EventWork(int device, const Lane& lane) : device_(device), comm_(lane.comm) {
    ODY_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming));
    ODY_CUDA_CHECK(cudaEventRecord(event_, lane.stream));
  }
  ~EventWork() override {
    try {
      if (!done_) wait(comm::kNoTimeout);
    } catch (...) {
    }
    cudaEventDestroy(event_);
  }
  bool test() override {
    if (done_) return true;
    ODY_CUDA_CHECK(cudaSetDevice(device_));
    const cudaError_t q = cudaEventQuery(event_);
    if (q == cudaSuccess) return done_ = true;
    if (q != cudaErrorNotReady) ODY_CUDA_CHECK(q);
    ncclResult_t async = ncclSuccess;
    ODY_NCCL_CHECK(ncclCommGetAsyncError(comm_, &async), comm_);
    if (async != ncclSuccess && async != ncclInProgress) ODY_NCCL_CHECK(async, comm_);
    return false;
  }
  void wait(std::chrono::milliseconds timeout) override {
    comm::poll_until_done([this] { return test(); }, timeout, comm::IdlePolicy::yield, "nccl");
  }

 private:
  int device_;
  ncclComm_t comm_;
  cudaEvent_t event_ = nullptr;
  bool done_ = false;
};

class NcclCommunicator final : public comm::Communicator {
 public:
  static std::unique_ptr<NcclCommunicator> create_owned(MPI_Comm mpi);
  ~NcclCommunicator() override {
    cudaSetDevice(device_);
    for (auto& l : lanes_) {
      if (l.stream) cudaStreamSynchronize(l.stream);
      if (l.comm) ncclCommDestroy(l.comm);
      if (l.stream) cudaStreamDestroy(l.stream);
    }
    if (barrier_buf_) cudaFree(barrier_buf_);
    MPI_Comm_free(&mpi_);
  }

 protected:
  std::unique_ptr<comm::Communicator> do_split(int color, int key) override {
    MPI_Comm sub = MPI_COMM_NULL;
    ODY_MPI_CHECK(MPI_Comm_split(mpi_, color < 0 ? MPI_UNDEFINED : color, key, &sub));
    if (sub == MPI_COMM_NULL) return nullptr;
    return create_owned(sub);
  }

  comm::WorkPtr do_all_reduce(comm::ConstBuf send, comm::Buf recv, comm::ReduceOp op,
                              comm::Tag tag) override {
    check_device("all_reduce: send", send.data);
    check_device("all_reduce: recv", recv.data);
    const Lane& l = lane(tag);
    if (send.count > 0)
      ODY_NCCL_CHECK(ncclAllReduce(send.data, recv.data, static_cast<size_t>(send.count),
                                   to_nccl(send.dtype), to_nccl(op), l.comm, l.stream),
                     l.comm);
    return done_after(l);
  }

  comm::WorkPtr do_all_gather(comm::ConstBuf send, comm::Buf recv, comm::Tag tag) override {
    check_device("all_gather: send", send.data);
    check_device("all_gather: recv", recv.data);
    const Lane& l = lane(tag);
    // In place (send == own block of recv) is NCCL's own in-place form.
    if (send.count > 0)
      ODY_NCCL_CHECK(ncclAllGather(send.data, recv.data, static_cast<size_t>(send.count),
                                   to_nccl(send.dtype), l.comm, l.stream),
                     l.comm);
    return done_after(l);
  }

  comm::WorkPtr do_all_gather_v(comm::ConstBuf send, comm::Buf recv,
                                std::span<const std::int64_t> counts, comm::Tag tag) override {
    check_device("all_gather_v: send", send.data);
    check_device("all_gather_v: recv", recv.data);
    const Lane& l = lane(tag);
    const std::size_t esize = comm::dtype_size(send.dtype);
    char* out = static_cast<char*>(recv.data);
    // One broadcast per root, in one group (counts are the same on every rank).
    ODY_NCCL_CHECK(ncclGroupStart(), l.comm);
    std::int64_t off = 0;
    for (int j = 0; j < size(); ++j) {
      if (counts[j] > 0) {
        const void* src = j == rank() ? send.data : out + off * esize;
        ODY_NCCL_CHECK(ncclBroadcast(src, out + off * esize, static_cast<size_t>(counts[j]),
                                     to_nccl(send.dtype), j, l.comm, l.stream),
                       l.comm);
      }
      off += counts[j];
    }
    ODY_NCCL_CHECK(ncclGroupEnd(), l.comm);
    return done_after(l);
  }

  comm::WorkPtr do_reduce_scatter(comm::ConstBuf send, comm::Buf recv, comm::ReduceOp op,
                                  comm::Tag tag) override {
    check_device("reduce_scatter: send", send.data);
    check_device("reduce_scatter: recv", recv.data);
    const Lane& l = lane(tag);
    if (recv.count == 0) return done_after(l);
    const std::size_t block = static_cast<std::size_t>(recv.bytes());
    if (send.data == recv.data && rank() != 0) {
      // ody's in place leaves the result at the start; NCCL's at the rank's own block.
      char* own = static_cast<char*>(recv.data) + rank() * block;
      ODY_NCCL_CHECK(ncclReduceScatter(send.data, own, static_cast<size_t>(recv.count),
                                       to_nccl(send.dtype), to_nccl(op), l.comm, l.stream),
                     l.comm);
      ODY_CUDA_CHECK(cudaMemcpyAsync(recv.data, own, block, cudaMemcpyDeviceToDevice, l.stream));
    } else {
      ODY_NCCL_CHECK(ncclReduceScatter(send.data, recv.data, static_cast<size_t>(recv.count),
                                       to_nccl(send.dtype), to_nccl(op), l.comm, l.stream),
                     l.comm);
    }
    return done_after(l);
  }

  comm::WorkPtr do_all_to_all(comm::ConstBuf send, comm::Buf recv, comm::Tag tag) override {
    const std::vector<std::int64_t> counts(size(), send.count / size());
    return all_to_all_impl("all_to_all", send, counts, recv, counts, tag);
  }

  comm::WorkPtr do_all_to_all_v(comm::ConstBuf send, std::span<const std::int64_t> send_counts,
                                comm::Buf recv, std::span<const std::int64_t> recv_counts,
                                comm::Tag tag) override {
    return all_to_all_impl("all_to_all_v", send, send_counts, recv, recv_counts, tag);
  }

  comm::WorkPtr do_broadcast(comm::Buf buffer, int root, comm::Tag tag) override {
    check_device("broadcast: buffer", buffer.data);
    const Lane& l = lane(tag);
    if (buffer.count > 0)
      ODY_NCCL_CHECK(ncclBroadcast(buffer.data, buffer.data, static_cast<size_t>(buffer.count),
                                   to_nccl(buffer.dtype), root, l.comm, l.stream),
                     l.comm);
    return done_after(l);
  }

  comm::WorkPtr do_barrier(comm::Tag tag) override {
    const Lane& l = lane(tag);
    int* slot = barrier_buf_ + tag;
    ODY_NCCL_CHECK(ncclAllReduce(slot, slot, 1, ncclInt32, ncclSum, l.comm, l.stream), l.comm);
    return done_after(l);
  }

  comm::WorkPtr do_batch_p2p(std::span<const comm::P2POp> ops) override {
    const Lane& l = lanes_[kP2P];
    use_device();
    for (const auto& op : ops)
      check_device(op.kind == comm::P2POp::Kind::send ? "send: buffer" : "recv: buffer",
                   op.buffer.data);
    ODY_NCCL_CHECK(ncclGroupStart(), l.comm);
    for (const auto& op : ops) {
      const auto n = static_cast<size_t>(op.buffer.count);
      if (op.kind == comm::P2POp::Kind::send)
        ODY_NCCL_CHECK(
            ncclSend(op.buffer.data, n, to_nccl(op.buffer.dtype), op.peer, l.comm, l.stream),
            l.comm);
      else
        ODY_NCCL_CHECK(
            ncclRecv(op.buffer.data, n, to_nccl(op.buffer.dtype), op.peer, l.comm, l.stream),
            l.comm);
    }
    ODY_NCCL_CHECK(ncclGroupEnd(), l.comm);
    return done_after(l);
  }

 private:
  NcclCommunicator(MPI_Comm mpi, int rank, int size, int device)
      : Communicator(rank, size, comm::BackendInfo{"nccl", false, true, false}),
        mpi_(mpi),
        device_(device) {}

  void use_device() const { ODY_CUDA_CHECK(cudaSetDevice(device_)); }

  const Lane& lane(comm::Tag tag) {
    use_device();
    return lanes_[tag];
  }

  comm::WorkPtr done_after(const Lane& l) { return std::make_unique<EventWork>(device_, l); }

  // Rejects pointers that are not device memory (a MemoryKind::cuda label on a host
  // pointer); null pointers only come with empty buffers.
  void check_device(const char* where, const void* p) const {
    if (!p) return;
    cudaPointerAttributes a{};
    const cudaError_t e = cudaPointerGetAttributes(&a, p);
    if (e != cudaSuccess) {
      cudaGetLastError();  // clear the sticky-free error of an unknown pointer
      throw Error(where, "device memory (backend nccl accepts device buffers only)",
                  "a pointer CUDA does not know (" + std::string(cudaGetErrorName(e)) + ")");
    }
    if (a.type != cudaMemoryTypeDevice && a.type != cudaMemoryTypeManaged)
      throw Error(where, "device memory (backend nccl accepts device buffers only)",
                  a.type == cudaMemoryTypeHost ? "pinned host memory" : "host memory");
  }

  comm::WorkPtr all_to_all_impl(const char* what, comm::ConstBuf send,
                                std::span<const std::int64_t> send_counts, comm::Buf recv,
                                std::span<const std::int64_t> recv_counts, comm::Tag tag) {
    const std::string w(what);
    check_device((w + ": send").c_str(), send.data);
    check_device((w + ": recv").c_str(), recv.data);
    const Lane& l = lane(tag);
    const std::size_t esize = comm::dtype_size(send.dtype);
    std::vector<std::int64_t> soff(size() + 1, 0), roff(size() + 1, 0);
    for (int j = 0; j < size(); ++j)
      soff[j + 1] = soff[j] + send_counts[j], roff[j + 1] = roff[j] + recv_counts[j];
    const char* src = static_cast<const char*>(send.data);
    char* dst = static_cast<char*>(recv.data);
    void* scratch = nullptr;
    const std::size_t send_bytes = static_cast<std::size_t>(soff[size()]) * esize;
    if (send.data == recv.data && send_bytes > 0) {  // in place: send from a copy
      ODY_CUDA_CHECK(cudaMallocAsync(&scratch, send_bytes, l.stream));
      ODY_CUDA_CHECK(
          cudaMemcpyAsync(scratch, send.data, send_bytes, cudaMemcpyDeviceToDevice, l.stream));
      src = static_cast<const char*>(scratch);
    }
    if (recv_counts[rank()] > 0)
      ODY_CUDA_CHECK(cudaMemcpyAsync(dst + roff[rank()] * esize, src + soff[rank()] * esize,
                                     static_cast<std::size_t>(recv_counts[rank()]) * esize,
                                     cudaMemcpyDeviceToDevice, l.stream));
    const ncclDataType_t dt = to_nccl(send.dtype);
    ODY_NCCL_CHECK(ncclGroupStart(), l.comm);
    for (int j = 0; j < size(); ++j) {
      if (j == rank()) continue;
      ODY_NCCL_CHECK(ncclSend(src + soff[j] * esize, static_cast<size_t>(send_counts[j]), dt, j,
                              l.comm, l.stream),
                     l.comm);
      ODY_NCCL_CHECK(ncclRecv(dst + roff[j] * esize, static_cast<size_t>(recv_counts[j]), dt, j,
                              l.comm, l.stream),
                     l.comm);
    }
    ODY_NCCL_CHECK(ncclGroupEnd(), l.comm);
    if (scratch) ODY_CUDA_CHECK(cudaFreeAsync(scratch, l.stream));
    return done_after(l);
  }

  MPI_Comm mpi_;
  int device_;
  std::array<Lane, kLanes> lanes_{};
  int* barrier_buf_ = nullptr;  // one device int per collective tag
};

std::unique_ptr<NcclCommunicator> NcclCommunicator::create_owned(MPI_Comm mpi) {
  int rank = 0, size = 1;
  ODY_MPI_CHECK(MPI_Comm_rank(mpi, &rank));
  ODY_MPI_CHECK(MPI_Comm_size(mpi, &size));
  // Every rank learns whether every rank has a device, so that all fail together.
  int devices = 0;
  const cudaError_t dev_err = cudaGetDeviceCount(&devices);
  if (dev_err != cudaSuccess) devices = 0;
  int min_devices = 0;
  ODY_MPI_CHECK(MPI_Allreduce(&devices, &min_devices, 1, MPI_INT, MPI_MIN, mpi));
  if (min_devices == 0) {
    MPI_Comm_free(&mpi);
    throw Error(std::string("backend nccl: no CUDA device on ") +
                (devices == 0 ? "this rank" : "some rank") + " (cudaGetDeviceCount: " +
                (dev_err == cudaSuccess ? "0 devices" : cudaGetErrorString(dev_err)) + ")");
  }
  MPI_Comm node = MPI_COMM_NULL;
  ODY_MPI_CHECK(MPI_Comm_split_type(mpi, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node));
  int local = 0;
  ODY_MPI_CHECK(MPI_Comm_rank(node, &local));
  ODY_MPI_CHECK(MPI_Comm_free(&node));
  const int device = local % devices;

  std::unique_ptr<NcclCommunicator> c(new NcclCommunicator(mpi, rank, size, device));
  c->use_device();
  std::array<ncclUniqueId, kLanes> ids{};
  if (rank == 0)
    for (auto& id : ids) ODY_NCCL_CHECK(ncclGetUniqueId(&id), nullptr);
  ODY_MPI_CHECK(MPI_Bcast(ids.data(), static_cast<int>(sizeof(ids)), MPI_BYTE, 0, mpi));
  for (auto& l : c->lanes_)
    ODY_CUDA_CHECK(cudaStreamCreateWithFlags(&l.stream, cudaStreamNonBlocking));
  ODY_NCCL_CHECK(ncclGroupStart(), nullptr);
  for (int i = 0; i < kLanes; ++i)
    ODY_NCCL_CHECK(ncclCommInitRank(&c->lanes_[i].comm, size, ids[i], rank), nullptr);
  ODY_NCCL_CHECK(ncclGroupEnd(), nullptr);
  ODY_CUDA_CHECK(cudaMalloc(&c->barrier_buf_, sizeof(int) * comm::kCollectiveTags));
  ODY_CUDA_CHECK(cudaMemset(c->barrier_buf_, 0, sizeof(int) * comm::kCollectiveTags));
  return c;
}

}  // namespace

std::unique_ptr<comm::Communicator> create(MPI_Comm parent) {
  MPI_Comm dup = MPI_COMM_NULL;
  ODY_MPI_CHECK(MPI_Comm_dup(parent, &dup));
  return NcclCommunicator::create_owned(dup);
}

}  // namespace ody::backends::nccl
