#pragma once
// The NCCL backend (built when CUDA and NCCL are found, ODY_HAVE_NCCL): every operation of
// ody::comm::Communicator on NCCL, device memory only.
//
// - Creation: rank 0 of the MPI communicator makes the ncclUniqueIds and broadcasts them
//   over MPI; each rank uses CUDA device (local rank mod device count) and
//   ncclCommInitRank. split() splits the MPI communicator and creates anew.
// - One NCCL communicator and one CUDA stream per collective tag (NCCL matches operations
//   of a communicator in issue order, so different tags need different communicators),
//   and one more for point to point. Operations are stream-ordered; a Work is a CUDA
//   event recorded after the operation: test() = cudaEventQuery, wait() polls it (with
//   the timeout) and checks ncclCommGetAsyncError.
// - BackendInfo: device_memory = true, host_memory = false; a host buffer is rejected with
//   a clear error (also a MemoryKind::cuda buffer whose pointer is not device memory).
// - batch_p2p, all_to_all(_v) and all_gather_v are NCCL groups (ncclGroupStart/End) of
//   ncclSend/ncclRecv or ncclBroadcast; avg is ncclAvg.
// - Point-to-point tags: NCCL has none. Messages between two ranks match in posting order,
//   and a posted receive occupies the point-to-point stream until its send arrives: post
//   a receive together with the sends it waits for (batch_p2p), as ring steps do.
//
// Compiled in every build where nvcc and NCCL are found; never executed here (no GPU).
#include <mpi.h>

#include <memory>

#include "comm/communicator.hpp"

namespace ody::backends::nccl {

// A world communicator over `parent` (duplicated; the caller keeps `parent`). Throws
// ody::Error when no CUDA device is visible.
std::unique_ptr<comm::Communicator> create(MPI_Comm parent);

}  // namespace ody::backends::nccl
