#pragma once
// The operations ody-commbench measures. Each says how to run itself through an
// ody::comm::Communicator and through raw MPI calls (the in-run baseline), its bus
// bandwidth factor (nccl-tests' convention), and how to check its result.
#include <mpi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "comm/communicator.hpp"

namespace ody::experiments::commbench {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual std::string name() const = 0;
  virtual comm::OpKind kind() const = 0;  // what the communicator's algorithm table keys on
  // nccl-tests' factor from algorithm bandwidth to bus bandwidth for p ranks.
  virtual double bus_factor(int p) const = 0;
  // Elements of the full buffer for a requested size in bytes (rounded down so that it
  // divides among p ranks where the operation needs it).
  virtual std::int64_t full_count(std::int64_t bytes, std::size_t esize, int p) const;
  // Allocates and fills the buffers for `count` elements of the full buffer.
  void prepare(std::int64_t count, comm::DType dtype, comm::ReduceOp op, int rank, int p);
  virtual void run_ours(comm::Communicator& comm) = 0;
  virtual void run_raw(MPI_Comm comm) = 0;
  // Runs ours once on closed-form data and returns how many output elements are wrong.
  std::int64_t check(comm::Communicator& comm);

 protected:
  virtual std::int64_t send_count() const = 0;
  virtual std::int64_t recv_count() const = 0;
  // Expected output element i on this rank, given input element j of rank r = value(r, j).
  virtual double expected(std::int64_t i) const = 0;

  comm::Buf send_buf() { return {send_.data(), send_count(), dtype_, comm::MemoryKind::host}; }
  comm::Buf recv_buf() { return {recv_.data(), recv_count(), dtype_, comm::MemoryKind::host}; }

  std::int64_t count_ = 0;  // full buffer elements
  comm::DType dtype_ = comm::DType::f32;
  comm::ReduceOp op_ = comm::ReduceOp::sum;
  int rank_ = 0, p_ = 1;
  std::vector<std::byte> send_, recv_;
};

// Small integers, exact in every element type and in sums over up to 8 ranks.
double input_value(int rank, std::int64_t i);

// "allreduce", "allgather", "reducescatter", "alltoall", "sendrecv".
std::vector<std::string> collective_names();
std::unique_ptr<Collective> make_collective(const std::string& name);

}  // namespace ody::experiments::commbench
