#include "experiments/commbench/collectives.hpp"

#include <cmath>
#include <cstring>

#include "backends/mpi/check.hpp"
#include "backends/mpi/datatypes.hpp"
#include "base/error.hpp"
#include "base/half.hpp"
#include "comm/reduce.hpp"

namespace ody::experiments::commbench {

namespace {

using comm::DType;
using comm::ReduceOp;
namespace mpi = backends::mpi;

void store(std::byte* base, std::int64_t i, DType t, double v) {
  std::byte* p = base + i * static_cast<std::int64_t>(comm::dtype_size(t));
  switch (t) {
    case DType::f32: {
      float x = static_cast<float>(v);
      std::memcpy(p, &x, 4);
      break;
    }
    case DType::f64:
      std::memcpy(p, &v, 8);
      break;
    case DType::bf16: {
      ody::bf16 x(static_cast<float>(v));
      std::memcpy(p, &x, 2);
      break;
    }
    case DType::f16: {
      ody::f16 x(static_cast<float>(v));
      std::memcpy(p, &x, 2);
      break;
    }
    case DType::i32: {
      auto x = static_cast<std::int32_t>(v);
      std::memcpy(p, &x, 4);
      break;
    }
    case DType::i64: {
      auto x = static_cast<std::int64_t>(v);
      std::memcpy(p, &x, 8);
      break;
    }
    case DType::u8: {
      auto x = static_cast<std::uint8_t>(v);
      std::memcpy(p, &x, 1);
      break;
    }
  }
}

double load(const std::byte* base, std::int64_t i, DType t) {
  const std::byte* p = base + i * static_cast<std::int64_t>(comm::dtype_size(t));
  switch (t) {
    case DType::f32: {
      float x;
      std::memcpy(&x, p, 4);
      return x;
    }
    case DType::f64: {
      double x;
      std::memcpy(&x, p, 8);
      return x;
    }
    case DType::bf16: {
      ody::bf16 x;
      std::memcpy(&x, p, 2);
      return static_cast<float>(x);
    }
    case DType::f16: {
      ody::f16 x;
      std::memcpy(&x, p, 2);
      return static_cast<float>(x);
    }
    case DType::i32: {
      std::int32_t x;
      std::memcpy(&x, p, 4);
      return x;
    }
    case DType::i64: {
      std::int64_t x;
      std::memcpy(&x, p, 8);
      return static_cast<double>(x);
    }
    case DType::u8: {
      std::uint8_t x;
      std::memcpy(&x, p, 1);
      return x;
    }
  }
  return 0;
}

double reduce_expected(ReduceOp op, int p, std::int64_t j) {
  double acc = input_value(0, j);
  for (int r = 1; r < p; ++r) {
    const double v = input_value(r, j);
    acc = op == ReduceOp::max ? std::max(acc, v) : op == ReduceOp::min ? std::min(acc, v) : acc + v;
  }
  return op == ReduceOp::avg ? acc / p : acc;
}

int icount(std::int64_t n) { return static_cast<int>(n); }

class AllReduce final : public Collective {
 public:
  std::string name() const override { return "allreduce"; }
  comm::OpKind kind() const override { return comm::OpKind::allreduce; }
  double bus_factor(int p) const override { return 2.0 * (p - 1) / p; }
  void run_ours(comm::Communicator& c) override { c.all_reduce(send_buf(), recv_buf(), op_); }
  void run_raw(MPI_Comm c) override {
    ODY_MPI_CHECK(MPI_Allreduce(send_.data(), recv_.data(), icount(count_), mpi::to_mpi(dtype_),
                                mpi::to_mpi(dtype_, op_), c));
    if (op_ == ReduceOp::avg) comm::divide_in_place(recv_.data(), count_, dtype_, p_);
  }

 protected:
  std::int64_t send_count() const override { return count_; }
  std::int64_t recv_count() const override { return count_; }
  double expected(std::int64_t i) const override { return reduce_expected(op_, p_, i); }
};

class AllGather final : public Collective {
 public:
  std::string name() const override { return "allgather"; }
  comm::OpKind kind() const override { return comm::OpKind::allgather; }
  double bus_factor(int p) const override { return static_cast<double>(p - 1) / p; }
  std::int64_t full_count(std::int64_t bytes, std::size_t esize, int p) const override {
    return bytes / static_cast<std::int64_t>(esize) / p * p;
  }
  void run_ours(comm::Communicator& c) override { c.all_gather(send_buf(), recv_buf()); }
  void run_raw(MPI_Comm c) override {
    ODY_MPI_CHECK(MPI_Allgather(send_.data(), icount(count_ / p_), mpi::to_mpi(dtype_),
                                recv_.data(), icount(count_ / p_), mpi::to_mpi(dtype_), c));
  }

 protected:
  std::int64_t send_count() const override { return count_ / p_; }
  std::int64_t recv_count() const override { return count_; }
  double expected(std::int64_t i) const override {
    const std::int64_t block = count_ / p_;
    return input_value(static_cast<int>(i / block), i % block);
  }
};

class ReduceScatter final : public Collective {
 public:
  std::string name() const override { return "reducescatter"; }
  comm::OpKind kind() const override { return comm::OpKind::reducescatter; }
  double bus_factor(int p) const override { return static_cast<double>(p - 1) / p; }
  std::int64_t full_count(std::int64_t bytes, std::size_t esize, int p) const override {
    return bytes / static_cast<std::int64_t>(esize) / p * p;
  }
  void run_ours(comm::Communicator& c) override { c.reduce_scatter(send_buf(), recv_buf(), op_); }
  void run_raw(MPI_Comm c) override {
    ODY_MPI_CHECK(MPI_Reduce_scatter_block(send_.data(), recv_.data(), icount(count_ / p_),
                                           mpi::to_mpi(dtype_), mpi::to_mpi(dtype_, op_), c));
    if (op_ == ReduceOp::avg) comm::divide_in_place(recv_.data(), count_ / p_, dtype_, p_);
  }

 protected:
  std::int64_t send_count() const override { return count_; }
  std::int64_t recv_count() const override { return count_ / p_; }
  double expected(std::int64_t i) const override {
    return reduce_expected(op_, p_, rank_ * (count_ / p_) + i);
  }
};

class AllToAll final : public Collective {
 public:
  std::string name() const override { return "alltoall"; }
  comm::OpKind kind() const override { return comm::OpKind::alltoall; }
  double bus_factor(int p) const override { return static_cast<double>(p - 1) / p; }
  std::int64_t full_count(std::int64_t bytes, std::size_t esize, int p) const override {
    return bytes / static_cast<std::int64_t>(esize) / p * p;
  }
  void run_ours(comm::Communicator& c) override { c.all_to_all(send_buf(), recv_buf()); }
  void run_raw(MPI_Comm c) override {
    ODY_MPI_CHECK(MPI_Alltoall(send_.data(), icount(count_ / p_), mpi::to_mpi(dtype_), recv_.data(),
                               icount(count_ / p_), mpi::to_mpi(dtype_), c));
  }

 protected:
  std::int64_t send_count() const override { return count_; }
  std::int64_t recv_count() const override { return count_; }
  // Block j of rank r's input is what rank j receives from r; input element j·b + i of
  // rank r is value(r, j·b + i).
  double expected(std::int64_t i) const override {
    const std::int64_t block = count_ / p_;
    return input_value(static_cast<int>(i / block), rank_ * block + i % block);
  }
};

// A ring: every rank sends its buffer to rank + 1 and receives from rank - 1.
class SendRecv final : public Collective {
 public:
  std::string name() const override { return "sendrecv"; }
  comm::OpKind kind() const override { return comm::OpKind::send; }
  double bus_factor(int) const override { return 1.0; }
  void run_ours(comm::Communicator& c) override {
    const comm::P2POp ops[] = {comm::P2POp::irecv(recv_buf(), prev()),
                               comm::P2POp::isend(send_buf(), next())};
    c.batch_p2p(ops);
  }
  void run_raw(MPI_Comm c) override {
    MPI_Request req[2];
    ODY_MPI_CHECK(
        MPI_Irecv(recv_.data(), icount(count_), mpi::to_mpi(dtype_), prev(), 0, c, &req[0]));
    ODY_MPI_CHECK(
        MPI_Isend(send_.data(), icount(count_), mpi::to_mpi(dtype_), next(), 0, c, &req[1]));
    ODY_MPI_CHECK(MPI_Waitall(2, req, MPI_STATUSES_IGNORE));
  }

 protected:
  std::int64_t send_count() const override { return count_; }
  std::int64_t recv_count() const override { return count_; }
  double expected(std::int64_t i) const override { return input_value(prev(), i); }

 private:
  int next() const { return (rank_ + 1) % p_; }
  int prev() const { return (rank_ + p_ - 1) % p_; }
};

}  // namespace

double input_value(int rank, std::int64_t i) {
  return static_cast<double>((rank * 31 + i * 7) % 13 + 1);
}

std::int64_t Collective::full_count(std::int64_t bytes, std::size_t esize, int) const {
  return bytes / static_cast<std::int64_t>(esize);
}

void Collective::prepare(std::int64_t count, comm::DType dtype, comm::ReduceOp op, int rank,
                         int p) {
  count_ = count;
  dtype_ = dtype;
  op_ = op;
  rank_ = rank;
  p_ = p;
  const auto es = static_cast<std::int64_t>(comm::dtype_size(dtype));
  send_.assign(static_cast<std::size_t>(send_count() * es + 1), std::byte{0});
  recv_.assign(static_cast<std::size_t>(recv_count() * es + 1), std::byte{0});
  for (std::int64_t i = 0; i < send_count(); ++i)
    store(send_.data(), i, dtype_, input_value(rank_, i));
}

std::int64_t Collective::check(comm::Communicator& c) {
  for (std::int64_t i = 0; i < send_count(); ++i)
    store(send_.data(), i, dtype_, input_value(rank_, i));
  std::memset(recv_.data(), 0, recv_.size());
  run_ours(c);
  // avg rounds once in the element type; everything else is exact.
  const double tol = op_ == ReduceOp::avg ? (dtype_ == DType::bf16  ? 1.0 / 256
                                             : dtype_ == DType::f16 ? 1.0 / 2048
                                                                    : 1e-6)
                                          : 0.0;
  std::int64_t wrong = 0;
  for (std::int64_t i = 0; i < recv_count(); ++i) {
    const double want = expected(i);
    if (std::abs(load(recv_.data(), i, dtype_) - want) > tol * std::abs(want)) ++wrong;
  }
  return wrong;
}

std::vector<std::string> collective_names() {
  return {"allreduce", "allgather", "reducescatter", "alltoall", "sendrecv"};
}

std::unique_ptr<Collective> make_collective(const std::string& name) {
  if (name == "allreduce") return std::make_unique<AllReduce>();
  if (name == "allgather") return std::make_unique<AllGather>();
  if (name == "reducescatter") return std::make_unique<ReduceScatter>();
  if (name == "alltoall") return std::make_unique<AllToAll>();
  if (name == "sendrecv") return std::make_unique<SendRecv>();
  throw Error("--op", "one of allreduce, allgather, reducescatter, alltoall, sendrecv, all",
              "'" + name + "'");
}

}  // namespace ody::experiments::commbench
