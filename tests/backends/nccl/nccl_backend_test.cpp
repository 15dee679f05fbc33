// The NCCL backend on device buffers: every operation against values computed here (the
// conformance suite itself uses host buffers, which this backend rejects by design).
// Every test skips, with the CUDA error as the reason, when no CUDA device is visible:
// this machine has none, so these tests have been compiled but never executed here.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "backends/registry.hpp"
#include "base/error.hpp"
#include "comm/communicator.hpp"

namespace ody::comm {
namespace {

using std::int64_t;

double value(int rank, int64_t i) { return static_cast<double>((rank * 31 + i * 7) % 13 + 1); }

// Host values <-> bytes of element type t.
std::vector<char> encode(DType t, const std::vector<double>& v) {
  std::vector<char> out(v.size() * dtype_size(t) + 1);
  for (std::size_t i = 0; i < v.size(); ++i) {
    char* p = out.data() + i * dtype_size(t);
    switch (t) {
      case DType::f32: {
        float x = static_cast<float>(v[i]);
        std::memcpy(p, &x, 4);
        break;
      }
      case DType::f64:
        std::memcpy(p, &v[i], 8);
        break;
      case DType::bf16: {
        bf16 x(static_cast<float>(v[i]));
        std::memcpy(p, &x, 2);
        break;
      }
      case DType::f16: {
        f16 x(static_cast<float>(v[i]));
        std::memcpy(p, &x, 2);
        break;
      }
      case DType::i32: {
        auto x = static_cast<std::int32_t>(v[i]);
        std::memcpy(p, &x, 4);
        break;
      }
      case DType::i64: {
        auto x = static_cast<std::int64_t>(v[i]);
        std::memcpy(p, &x, 8);
        break;
      }
      case DType::u8: {
        auto x = static_cast<std::uint8_t>(v[i]);
        std::memcpy(p, &x, 1);
        break;
      }
    }
  }
  return out;
}
double decode(DType t, const char* p) {
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
      bf16 x;
      std::memcpy(&x, p, 2);
      return static_cast<float>(x);
    }
    case DType::f16: {
      f16 x;
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

// A device buffer of n elements of type t.
class DeviceBuffer {
 public:
  DeviceBuffer(DType t, int64_t n) : t_(t), n_(n) {
    EXPECT_EQ(cudaMalloc(&p_, static_cast<std::size_t>(n) * dtype_size(t) + 16), cudaSuccess);
  }
  ~DeviceBuffer() { cudaFree(p_); }
  void upload(const std::vector<double>& v) {
    auto bytes = encode(t_, v);
    EXPECT_EQ(cudaMemcpy(p_, bytes.data(), v.size() * dtype_size(t_), cudaMemcpyHostToDevice),
              cudaSuccess);
  }
  std::vector<double> download() const {
    std::vector<char> bytes(static_cast<std::size_t>(n_) * dtype_size(t_) + 1);
    EXPECT_EQ(cudaMemcpy(bytes.data(), p_, static_cast<std::size_t>(n_) * dtype_size(t_),
                         cudaMemcpyDeviceToHost),
              cudaSuccess);
    std::vector<double> v(n_);
    for (int64_t i = 0; i < n_; ++i) v[i] = decode(t_, bytes.data() + i * dtype_size(t_));
    return v;
  }
  Buf view(int64_t offset = 0, int64_t n = -1) {
    return {static_cast<char*>(p_) + offset * dtype_size(t_), n < 0 ? n_ : n, t_, MemoryKind::cuda};
  }

 private:
  DType t_;
  int64_t n_;
  void* p_ = nullptr;
};

class NcclBackend : public ::testing::Test {
 protected:
  void SetUp() override {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0)
      GTEST_SKIP() << "no CUDA device (cudaGetDeviceCount: "
                   << (e == cudaSuccess ? "0 devices" : cudaGetErrorString(e))
                   << "): the NCCL backend is compiled but cannot run here";
    comm_ = backends::create_world("nccl");
    p_ = comm_->size();
    r_ = comm_->rank();
  }
  std::unique_ptr<Communicator> comm_;
  int p_ = 1, r_ = 0;
};

double tol(DType t) {
  return t == DType::bf16  ? 1.0 / 256
         : t == DType::f16 ? 1.0 / 2048
         : t == DType::f32 ? 1e-7
                           : 1e-15;
}

TEST_F(NcclBackend, Info) {
  EXPECT_EQ(comm_->info().name, "nccl");
  EXPECT_TRUE(comm_->info().device_memory);
  EXPECT_FALSE(comm_->info().host_memory);
}

TEST_F(NcclBackend, AllReduceEveryTypeAndOp) {
  for (DType t :
       {DType::f32, DType::f64, DType::bf16, DType::f16, DType::i32, DType::i64, DType::u8})
    for (ReduceOp op : {ReduceOp::sum, ReduceOp::max, ReduceOp::min, ReduceOp::avg}) {
      if (!reduction_allowed(t, op)) continue;
      for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{13}, int64_t{(1 << 20) + 3}})
        for (bool in_place : {false, true}) {
          DeviceBuffer send(t, n), recv(t, n);
          std::vector<double> mine(n);
          for (int64_t i = 0; i < n; ++i) mine[i] = value(r_, i);
          send.upload(mine);
          DeviceBuffer& out = in_place ? send : recv;
          comm_->all_reduce_async(send.view(), out.view(), op)->wait();
          const auto got = out.download();
          int64_t bad = 0;
          for (int64_t i = 0; i < n; ++i) {
            double want = op == ReduceOp::min ? 1e300 : op == ReduceOp::max ? -1e300 : 0;
            for (int q = 0; q < p_; ++q) {
              const double v = value(q, i);
              want = op == ReduceOp::min   ? std::min(want, v)
                     : op == ReduceOp::max ? std::max(want, v)
                                           : want + v;
            }
            if (op == ReduceOp::avg) want /= p_;
            if (std::abs(got[i] - want) > (op == ReduceOp::avg ? tol(t) : 0.0) * std::abs(want))
              ++bad;
          }
          EXPECT_EQ(bad, 0) << to_string(t) << " " << to_string(op) << " n=" << n
                            << (in_place ? " in place" : "");
        }
    }
}

TEST_F(NcclBackend, AllGatherAndV) {
  const int64_t n = 300001;
  DeviceBuffer send(DType::f32, n), recv(DType::f32, n * p_);
  std::vector<double> mine(n);
  for (int64_t i = 0; i < n; ++i) mine[i] = value(r_, i);
  send.upload(mine);
  comm_->all_gather(send.view(), recv.view());
  auto got = recv.download();
  for (int64_t k = 0; k < n * p_; k += 997)
    ASSERT_EQ(got[k], value(static_cast<int>(k / n), k % n)) << k;
  // Varying counts, in place.
  std::vector<int64_t> counts(p_), displs(p_, 0);
  for (int j = 0; j < p_; ++j) counts[j] = (j * 3 + 1) % 5;
  std::partial_sum(counts.begin(), counts.end() - 1, displs.begin() + 1);
  DeviceBuffer all(DType::f64, displs.back() + counts.back());
  std::vector<double> init(displs.back() + counts.back(), -1);
  for (int64_t i = 0; i < counts[r_]; ++i) init[displs[r_] + i] = value(r_, i);
  all.upload(init);
  comm_->all_gather_v(all.view(displs[r_], counts[r_]), all.view(), counts);
  got = all.download();
  for (int j = 0; j < p_; ++j)
    for (int64_t i = 0; i < counts[j]; ++i) EXPECT_EQ(got[displs[j] + i], value(j, i));
}

TEST_F(NcclBackend, ReduceScatterInPlaceResultAtStart) {
  const int64_t m = 1001;
  for (bool in_place : {false, true}) {
    DeviceBuffer send(DType::f32, m * p_), recv(DType::f32, m);
    std::vector<double> mine(m * p_);
    for (int64_t i = 0; i < m * p_; ++i) mine[i] = value(r_, i);
    send.upload(mine);
    comm_->reduce_scatter(send.view(), in_place ? send.view(0, m) : recv.view(), ReduceOp::sum);
    const auto got = (in_place ? send : recv).download();
    for (int64_t i = 0; i < m; ++i) {
      double want = 0;
      for (int q = 0; q < p_; ++q) want += value(q, r_ * m + i);
      ASSERT_EQ(got[i], want) << i << (in_place ? " in place" : "");
    }
  }
}

TEST_F(NcclBackend, AllToAllInPlaceAndV) {
  const int64_t block = 1003;
  DeviceBuffer buf(DType::i32, block * p_);
  std::vector<double> mine(block * p_);
  for (int j = 0; j < p_; ++j)
    for (int64_t i = 0; i < block; ++i) mine[j * block + i] = value(r_, j * 5 + i);
  buf.upload(mine);
  comm_->all_to_all(buf.view(), buf.view());
  auto got = buf.download();
  for (int64_t k = 0; k < block * p_; ++k)
    ASSERT_EQ(got[k], value(static_cast<int>(k / block), r_ * 5 + k % block)) << k;
  auto sc = [](int src, int dst) { return static_cast<int64_t>((src * 2 + dst * 3) % 4); };
  std::vector<int64_t> scount(p_), rcount(p_), sdispl(p_, 0), rdispl(p_, 0);
  for (int j = 0; j < p_; ++j) scount[j] = sc(r_, j), rcount[j] = sc(j, r_);
  std::partial_sum(scount.begin(), scount.end() - 1, sdispl.begin() + 1);
  std::partial_sum(rcount.begin(), rcount.end() - 1, rdispl.begin() + 1);
  DeviceBuffer s(DType::i64, sdispl.back() + scount.back()),
      r(DType::i64, rdispl.back() + rcount.back());
  std::vector<double> sv(sdispl.back() + scount.back());
  for (int j = 0; j < p_; ++j)
    for (int64_t i = 0; i < scount[j]; ++i) sv[sdispl[j] + i] = value(r_, j * 5 + i);
  s.upload(sv);
  comm_->all_to_all_v(s.view(), scount, r.view(), rcount);
  got = r.download();
  for (int j = 0; j < p_; ++j)
    for (int64_t i = 0; i < rcount[j]; ++i) EXPECT_EQ(got[rdispl[j] + i], value(j, r_ * 5 + i));
}

TEST_F(NcclBackend, BroadcastBarrierRing) {
  const int64_t n = 4099;
  for (int root = 0; root < p_; ++root) {
    DeviceBuffer b(DType::bf16, n);
    std::vector<double> v(n);
    for (int64_t i = 0; i < n; ++i) v[i] = r_ == root ? value(root, i) : -1;
    b.upload(v);
    comm_->broadcast(b.view(), root);
    const auto got = b.download();
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(got[i], value(root, i));
  }
  comm_->barrier();
  comm_->barrier_async(3)->wait();
  DeviceBuffer out(DType::f32, n), in(DType::f32, n);
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = value(r_, i);
  out.upload(v);
  const int next = (r_ + 1) % p_, prev = (r_ + p_ - 1) % p_;
  const P2POp ops[] = {P2POp::isend(out.view(), next, 5), P2POp::irecv(in.view(), prev, 5)};
  comm_->batch_p2p(ops);
  const auto got = in.download();
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(got[i], value(prev, i));
  EXPECT_EQ(comm_->traffic()[OpKind::send].bytes_sent, static_cast<std::uint64_t>(n * 4));
}

TEST_F(NcclBackend, SplitByParity) {
  auto sub = comm_->split(r_ % 2, r_);
  ASSERT_NE(sub, nullptr);
  DeviceBuffer v(DType::i64, 1);
  v.upload({static_cast<double>(r_)});
  sub->all_reduce(v.view(), v.view(), ReduceOp::sum);
  double want = 0;
  for (int q = r_ % 2; q < p_; q += 2) want += q;
  EXPECT_EQ(v.download()[0], want);
}

TEST_F(NcclBackend, RejectsHostBuffers) {
  std::vector<float> host(8, 1.0f);
  Buf h{host.data(), 8, DType::f32, MemoryKind::host};
  try {
    comm_->all_reduce(h, h, ReduceOp::sum);
    ADD_FAILURE() << "host memory accepted";
  } catch (const ody::Error& e) {
    EXPECT_NE(std::string(e.what()).find("memory kind"), std::string::npos) << e.what();
  }
  Buf lying{host.data(), 8, DType::f32, MemoryKind::cuda};  // labelled device, is host
  try {
    comm_->all_reduce(lying, lying, ReduceOp::sum);
    ADD_FAILURE() << "a host pointer labelled cuda was accepted";
  } catch (const ody::Error& e) {
    EXPECT_NE(std::string(e.what()).find("device memory"), std::string::npos) << e.what();
  }
  comm_->barrier();
}

}  // namespace
}  // namespace ody::comm
