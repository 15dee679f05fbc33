// The conformance suite of ody::comm::Communicator. Every backend must pass it; the
// backend is chosen by name (--ody-backend=NAME, default mpi) and CTest runs it at world
// sizes 1, 2, 3 and 4. docs/backends.md tells a backend author how to run it.
//
// Data is a closed form of (rank, index) with small integer values, so every expected
// result is computed here and is exact in every element type (sums of up to 8 values
// <= 13 fit bf16's 8-bit mantissa and u8); only avg rounds once, in the element type.
// Traffic expectations are written out here from docs/traffic.md, independently of the
// library's own traffic_model.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <numeric>
#include <vector>

#include "backends/registry.hpp"
#include "base/error.hpp"
#include "comm/communicator.hpp"
#include "support/test_args.hpp"
#include "support/typed_value.hpp"

namespace ody::comm {
namespace {

using std::int64_t;

constexpr DType kAllTypes[] = {DType::f32, DType::f64, DType::bf16, DType::f16,
                               DType::i32, DType::i64, DType::u8};
constexpr ReduceOp kAllOps[] = {ReduceOp::sum, ReduceOp::max, ReduceOp::min, ReduceOp::avg};
constexpr int64_t kCounts[] = {0, 1, 13};
constexpr int64_t kLarge = (1 << 20) + 3;  // a few MiB, and odd

double value(int rank, int64_t i) { return static_cast<double>((rank * 31 + i * 7) % 13 + 1); }

// A typed buffer handled through DType, so one test body covers every element type.
class Buffer {
 public:
  Buffer(DType t, int64_t n)
      : t_(t), n_(n), bytes_(static_cast<std::size_t>(n) * dtype_size(t) + 1) {}
  void set(int64_t i, double v) { test::store_value(t_, bytes_.data() + i * dtype_size(t_), v); }
  double get(int64_t i) const { return test::load_value(t_, bytes_.data() + i * dtype_size(t_)); }
  void fill(double v) {
    for (int64_t i = 0; i < n_; ++i) set(i, v);
  }
  Buf view() { return {bytes_.data(), n_, t_, MemoryKind::host}; }
  Buf view_at(int64_t offset, int64_t n) {
    return {bytes_.data() + offset * dtype_size(t_), n, t_, MemoryKind::host};
  }
  int64_t size() const { return n_; }

 private:
  DType t_;
  int64_t n_;
  std::vector<char> bytes_;  // +1 byte so that data() is never null
};

// Relative tolerance of one rounding in type t (avg divides once).
double eps(DType t) {
  switch (t) {
    case DType::bf16:
      return std::ldexp(1.0, -8);
    case DType::f16:
      return std::ldexp(1.0, -11);
    case DType::f32:
      return std::ldexp(1.0, -24);
    default:
      return 1e-15;
  }
}

double reduce(ReduceOp op, int p, int64_t i, int64_t offset_in_full) {
  double acc = op == ReduceOp::min ? 1e300 : (op == ReduceOp::max ? -1e300 : 0.0);
  for (int r = 0; r < p; ++r) {
    const double v = value(r, offset_in_full + i);
    if (op == ReduceOp::max)
      acc = std::max(acc, v);
    else if (op == ReduceOp::min)
      acc = std::min(acc, v);
    else
      acc += v;
  }
  return op == ReduceOp::avg ? acc / p : acc;
}

// Checks every element and reports the worst one.
void expect_values(const Buffer& b, int64_t n, DType t, const std::function<double(int64_t)>& want,
                   double rel_tol, const std::string& what) {
  int64_t bad = 0, worst = -1;
  double worst_err = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double w = want(i), g = b.get(i);
    const double err = std::abs(g - w);
    if (err > rel_tol * std::abs(w)) {
      ++bad;
      if (err > worst_err) worst_err = err, worst = i;
    }
  }
  EXPECT_EQ(bad, 0) << what << " (" << to_string(t) << "): " << bad << " wrong of " << n
                    << "; worst at index " << worst << ": got " << (worst >= 0 ? b.get(worst) : 0)
                    << ", want " << (worst >= 0 ? want(worst) : 0);
}

class Conformance : public ::testing::Test {
 protected:
  void SetUp() override {
    comm_ = backends::create_world(test::backend_name());
    p_ = comm_->size();
    r_ = comm_->rank();
  }
  void expect_traffic(OpKind k, std::uint64_t ops, std::uint64_t sent, std::uint64_t recv,
                      const std::string& what) {
    if (comm_->info().counts_own_traffic) return;  // such backends check their own counts
    const auto e = comm_->traffic()[k];
    EXPECT_EQ(e.ops, ops) << what;
    EXPECT_EQ(e.bytes_sent, sent) << what;
    EXPECT_EQ(e.bytes_recv, recv) << what;
  }
  std::unique_ptr<Communicator> comm_;
  int p_ = 1, r_ = 0;
};

TEST_F(Conformance, RankAndSize) {
  EXPECT_GE(p_, 1);
  EXPECT_GE(r_, 0);
  EXPECT_LT(r_, p_);
  EXPECT_EQ(comm_->info().name, test::backend_name());
}

TEST_F(Conformance, AllReduceEveryTypeAndOp) {
  for (DType t : kAllTypes)
    for (ReduceOp op : kAllOps) {
      if (!reduction_allowed(t, op)) continue;
      std::vector<int64_t> counts(std::begin(kCounts), std::end(kCounts));
      if (op == ReduceOp::sum && (t == DType::f32 || t == DType::bf16)) counts.push_back(kLarge);
      for (int64_t n : counts)
        for (bool in_place : {false, true})
          for (bool async : {false, true}) {
            comm_->reset_traffic();
            Buffer send(t, n), recv(t, n);
            for (int64_t i = 0; i < n; ++i) send.set(i, value(r_, i));
            Buffer& out = in_place ? send : recv;
            if (async)
              comm_->all_reduce_async(send.view(), out.view(), op)->wait();
            else
              comm_->all_reduce(send.view(), out.view(), op);
            const std::string what = "all_reduce " + std::string(to_string(op)) +
                                     " n=" + std::to_string(n) + (in_place ? " in place" : "") +
                                     (async ? " async" : "");
            expect_values(
                out, n, t, [&](int64_t i) { return reduce(op, p_, i, 0); },
                op == ReduceOp::avg ? eps(t) : 0.0, what);
            const int64_t own = n / p_ + (r_ < n % p_ ? 1 : 0);
            const auto b = static_cast<std::uint64_t>(2 * (n - own) * dtype_size(t));
            expect_traffic(OpKind::allreduce, 1, b, b, what);
          }
    }
}

TEST_F(Conformance, AllGather) {
  for (DType t : {DType::f32, DType::bf16, DType::u8, DType::i64})
    for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{13}, int64_t{300001}})
      for (bool in_place : {false, true})
        for (bool async : {false, true}) {
          comm_->reset_traffic();
          Buffer send(t, n), recv(t, n * p_);
          recv.fill(0);
          Buf src = in_place ? recv.view_at(r_ * n, n) : send.view();
          Buffer& src_owner = in_place ? recv : send;
          for (int64_t i = 0; i < n; ++i) src_owner.set((in_place ? r_ * n : 0) + i, value(r_, i));
          if (async)
            comm_->all_gather_async(src, recv.view())->wait();
          else
            comm_->all_gather(src, recv.view());
          const std::string what =
              "all_gather n=" + std::to_string(n) + (in_place ? " in place" : "");
          expect_values(
              recv, n * p_, t,
              [&](int64_t i) {
                return value(static_cast<int>(i / std::max<int64_t>(n, 1)),
                             i % std::max<int64_t>(n, 1));
              },
              0.0, what);
          const auto b = static_cast<std::uint64_t>(n * (p_ - 1) * dtype_size(t));
          expect_traffic(OpKind::allgather, 1, b, b, what);
        }
}

TEST_F(Conformance, AllGatherVaryingCounts) {
  for (bool in_place : {false, true})
    for (bool async : {false, true}) {
      comm_->reset_traffic();
      std::vector<int64_t> counts(p_);
      for (int j = 0; j < p_; ++j) counts[j] = (j * 3 + 1) % 5;  // includes empty blocks
      std::vector<int64_t> displs(p_, 0);
      std::partial_sum(counts.begin(), counts.end() - 1, displs.begin() + 1);
      const int64_t total = displs.back() + counts.back();
      Buffer send(DType::f64, counts[r_]), recv(DType::f64, total);
      recv.fill(-1);
      Buffer& src_owner = in_place ? recv : send;
      const int64_t base = in_place ? displs[r_] : 0;
      for (int64_t i = 0; i < counts[r_]; ++i) src_owner.set(base + i, value(r_, i));
      Buf src = in_place ? recv.view_at(displs[r_], counts[r_]) : send.view();
      if (async)
        comm_->all_gather_v_async(src, recv.view(), counts)->wait();
      else
        comm_->all_gather_v(src, recv.view(), counts);
      for (int j = 0; j < p_; ++j)
        for (int64_t i = 0; i < counts[j]; ++i)
          EXPECT_EQ(recv.get(displs[j] + i), value(j, i)) << "block " << j << " index " << i;
      const auto sent = static_cast<std::uint64_t>(counts[r_] * (p_ - 1) * 8);
      const auto got = static_cast<std::uint64_t>((total - counts[r_]) * 8);
      expect_traffic(OpKind::allgatherv, 1, sent, got, "all_gather_v");
    }
}

TEST_F(Conformance, ReduceScatterEveryTypeAndOp) {
  for (DType t : kAllTypes)
    for (ReduceOp op : kAllOps) {
      if (!reduction_allowed(t, op)) continue;
      std::vector<int64_t> counts(std::begin(kCounts), std::end(kCounts));
      if (op == ReduceOp::sum && t == DType::f32) counts.push_back(kLarge / 4);
      for (int64_t n : counts)
        for (bool in_place : {false, true})
          for (bool async : {false, true}) {
            comm_->reset_traffic();
            Buffer send(t, n * p_), recv(t, n);
            for (int64_t i = 0; i < n * p_; ++i) send.set(i, value(r_, i));
            Buf out = in_place ? send.view_at(0, n) : recv.view();
            if (async)
              comm_->reduce_scatter_async(send.view(), out, op)->wait();
            else
              comm_->reduce_scatter(send.view(), out, op);
            Buffer& res = in_place ? send : recv;
            const std::string what = "reduce_scatter " + std::string(to_string(op)) +
                                     " n=" + std::to_string(n) + (in_place ? " in place" : "");
            expect_values(
                res, n, t, [&](int64_t i) { return reduce(op, p_, i, r_ * n); },
                op == ReduceOp::avg ? eps(t) : 0.0, what);
            const auto b = static_cast<std::uint64_t>(n * (p_ - 1) * dtype_size(t));
            expect_traffic(OpKind::reducescatter, 1, b, b, what);
          }
    }
}

TEST_F(Conformance, AllToAll) {
  for (DType t : {DType::f32, DType::bf16, DType::i32})
    for (int64_t block : {int64_t{0}, int64_t{1}, int64_t{13}, int64_t{100003}})
      for (bool in_place : {false, true})
        for (bool async : {false, true}) {
          comm_->reset_traffic();
          const int64_t n = block * p_;
          Buffer send(t, n), recv(t, n);
          // Element i of the block for rank j encodes (sender, receiver, i).
          for (int j = 0; j < p_; ++j)
            for (int64_t i = 0; i < block; ++i) send.set(j * block + i, value(r_, j * 5 + i));
          Buffer& out = in_place ? send : recv;
          if (async)
            comm_->all_to_all_async(send.view(), out.view())->wait();
          else
            comm_->all_to_all(send.view(), out.view());
          const std::string what =
              "all_to_all block=" + std::to_string(block) + (in_place ? " in place" : "");
          expect_values(
              out, n, t,
              [&](int64_t k) {
                const int64_t b = std::max<int64_t>(block, 1);
                return value(static_cast<int>(k / b), r_ * 5 + k % b);
              },
              0.0, what);
          const auto bytes = static_cast<std::uint64_t>(block * (p_ - 1) * dtype_size(t));
          expect_traffic(OpKind::alltoall, 1, bytes, bytes, what);
        }
}

TEST_F(Conformance, AllToAllVaryingCounts) {
  for (bool async : {false, true}) {
    comm_->reset_traffic();
    auto sc = [](int src, int dst) { return static_cast<int64_t>((src * 2 + dst * 3) % 4); };
    std::vector<int64_t> scount(p_), rcount(p_), sdispl(p_, 0), rdispl(p_, 0);
    for (int j = 0; j < p_; ++j) scount[j] = sc(r_, j), rcount[j] = sc(j, r_);
    std::partial_sum(scount.begin(), scount.end() - 1, sdispl.begin() + 1);
    std::partial_sum(rcount.begin(), rcount.end() - 1, rdispl.begin() + 1);
    Buffer send(DType::i64, sdispl.back() + scount.back()),
        recv(DType::i64, rdispl.back() + rcount.back());
    for (int j = 0; j < p_; ++j)
      for (int64_t i = 0; i < scount[j]; ++i) send.set(sdispl[j] + i, value(r_, j * 5 + i));
    if (async)
      comm_->all_to_all_v_async(send.view(), scount, recv.view(), rcount)->wait();
    else
      comm_->all_to_all_v(send.view(), scount, recv.view(), rcount);
    std::uint64_t sent = 0, got = 0;
    for (int j = 0; j < p_; ++j) {
      for (int64_t i = 0; i < rcount[j]; ++i)
        EXPECT_EQ(recv.get(rdispl[j] + i), value(j, r_ * 5 + i)) << "from " << j << " index " << i;
      if (j != r_) sent += scount[j] * 8, got += rcount[j] * 8;
    }
    expect_traffic(OpKind::alltoallv, 1, sent, got, "all_to_all_v");
  }
}

TEST_F(Conformance, Broadcast) {
  for (int root = 0; root < p_; ++root)
    for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{13}, kLarge}) {
      const bool async = root % 2 == 1;
      comm_->reset_traffic();
      Buffer b(DType::f32, n);
      for (int64_t i = 0; i < n; ++i) b.set(i, r_ == root ? value(root, i) : -1.0);
      if (async)
        comm_->broadcast_async(b.view(), root)->wait();
      else
        comm_->broadcast(b.view(), root);
      expect_values(
          b, n, DType::f32, [&](int64_t i) { return value(root, i); }, 0.0,
          "broadcast root " + std::to_string(root));
      const auto bytes = static_cast<std::uint64_t>(n * 4);
      expect_traffic(OpKind::broadcast, 1, p_ > 1 && r_ == root ? bytes : 0,
                     p_ > 1 && r_ != root ? bytes : 0, "broadcast");
    }
}

TEST_F(Conformance, BarrierCountsNoBytes) {
  comm_->reset_traffic();
  comm_->barrier();
  comm_->barrier_async(1)->wait();
  expect_traffic(OpKind::barrier, 2, 0, 0, "barrier");
}

TEST_F(Conformance, RingExchangeBatched) {
  const int next = (r_ + 1) % p_, prev = (r_ + p_ - 1) % p_;
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{13}, kLarge}) {
    comm_->reset_traffic();
    Buffer out(DType::f32, n), in(DType::f32, n);
    for (int64_t i = 0; i < n; ++i) out.set(i, value(r_, i));
    const P2POp ops[] = {P2POp::isend(out.view(), next, 5), P2POp::irecv(in.view(), prev, 5)};
    comm_->batch_p2p(ops);
    expect_values(
        in, n, DType::f32, [&](int64_t i) { return value(prev, i); }, 0.0, "ring step");
    expect_traffic(OpKind::send, 1, n * 4, 0, "ring send");
    expect_traffic(OpKind::recv, 1, 0, n * 4, "ring recv");
  }
}

TEST_F(Conformance, BlockingSendRecvPairs) {
  if (p_ < 2) GTEST_SKIP() << "needs two ranks";
  Buffer b(DType::i32, 17);
  if (r_ == 0) {
    for (int64_t i = 0; i < 17; ++i) b.set(i, value(0, i));
    for (int peer = 1; peer < p_; ++peer) comm_->send(b.view(), peer, 3);
  } else {
    comm_->recv(b.view(), 0, 3);
    expect_values(
        b, 17, DType::i32, [](int64_t i) { return value(0, i); }, 0.0, "recv from 0");
  }
}

// Several operations in flight at once on one communicator, with different tags, waited
// on in the reverse order of issue; and collectives of different tags issued in
// different orders on different ranks.
TEST_F(Conformance, ManyInFlightAndTagIndependence) {
  const int64_t n = 4099;
  Buffer a(DType::f32, n), ar(DType::f32, n), g(DType::f32, n * p_), ring_in(DType::f32, n),
      ring_out(DType::f32, n), t(DType::f32, n * p_), tr(DType::f32, n * p_);
  for (int64_t i = 0; i < n; ++i) a.set(i, value(r_, i)), ring_out.set(i, value(r_, i + 1));
  for (int64_t i = 0; i < n * p_; ++i) t.set(i, value(r_, i));
  std::vector<WorkPtr> works;
  const int next = (r_ + 1) % p_, prev = (r_ + p_ - 1) % p_;
  const P2POp ops[] = {P2POp::isend(ring_out.view(), next, 9),
                       P2POp::irecv(ring_in.view(), prev, 9)};
  if (r_ % 2 == 0) {
    works.push_back(comm_->all_reduce_async(a.view(), ar.view(), ReduceOp::sum, 1));
    works.push_back(comm_->all_gather_async(a.view(), g.view(), 2));
    works.push_back(comm_->batch_p2p_async(ops));
    works.push_back(comm_->all_to_all_async(t.view(), tr.view(), 3));
  } else {
    works.push_back(comm_->all_to_all_async(t.view(), tr.view(), 3));
    works.push_back(comm_->batch_p2p_async(ops));
    works.push_back(comm_->all_gather_async(a.view(), g.view(), 2));
    works.push_back(comm_->all_reduce_async(a.view(), ar.view(), ReduceOp::sum, 1));
  }
  for (auto it = works.rbegin(); it != works.rend(); ++it) (*it)->wait();
  for (auto& w : works) EXPECT_TRUE(w->test());
  expect_values(
      ar, n, DType::f32, [&](int64_t i) { return reduce(ReduceOp::sum, p_, i, 0); }, 0,
      "allreduce");
  expect_values(
      g, n * p_, DType::f32, [&](int64_t i) { return value(static_cast<int>(i / n), i % n); }, 0,
      "allgather");
  expect_values(
      ring_in, n, DType::f32, [&](int64_t i) { return value(prev, i + 1); }, 0, "ring");
  expect_values(
      tr, n * p_, DType::f32,
      [&](int64_t k) { return value(static_cast<int>(k / n), r_ * n + k % n); }, 0, "alltoall");
}

TEST_F(Conformance, SplitMakesIndependentSubCommunicators) {
  // Reverse order inside each color via the key.
  auto sub = comm_->split(r_ % 2, -r_);
  ASSERT_NE(sub, nullptr);
  const int color_size = (p_ - r_ % 2 + 1) / 2;
  EXPECT_EQ(sub->size(), color_size);
  const int pos_in_color = r_ / 2;
  EXPECT_EQ(sub->rank(), color_size - 1 - pos_in_color);
  Buffer v(DType::i64, 1), s(DType::i64, 1);
  v.set(0, r_);
  sub->all_reduce(v.view(), s.view(), ReduceOp::sum);
  std::int64_t want = 0;
  for (int q = r_ % 2; q < p_; q += 2) want += q;
  EXPECT_EQ(s.get(0), static_cast<double>(want));
  EXPECT_EQ(sub->traffic()[OpKind::allreduce].ops, 1u);
  EXPECT_EQ(comm_->traffic()[OpKind::allreduce].ops, 0u) << "parent counters must not move";
  // Ranks with a negative color take no part.
  auto none = comm_->split(r_ == 0 ? -1 : 0, 0);
  EXPECT_EQ(none == nullptr, r_ == 0);
  if (none) EXPECT_EQ(none->size(), p_ - 1);
}

TEST_F(Conformance, InvalidArgumentsAreRejectedBeforeSending) {
  Buffer a(DType::f32, 8), b(DType::f32, 8), i(DType::i32, 8);
  auto expect_error = [&](auto&& call, const std::string& names) {
    try {
      call();
      ADD_FAILURE() << "no error; expected one naming " << names;
    } catch (const ody::Error& e) {
      EXPECT_NE(std::string(e.what()).find(names), std::string::npos) << e.what();
    }
  };
  Buf neg = a.view();
  neg.count = -1;
  expect_error([&] { comm_->all_reduce(neg, b.view(), ReduceOp::sum); }, "all_reduce: send");
  expect_error([&] { comm_->all_reduce(a.view(), b.view_at(0, 7), ReduceOp::sum); },
               "all_reduce: recv.count");
  expect_error([&] { comm_->all_reduce(a.view(), i.view(), ReduceOp::sum); }, "recv.dtype");
  expect_error([&] { comm_->all_reduce(i.view(), i.view(), ReduceOp::avg); }, "all_reduce: op");
  expect_error([&] { comm_->all_reduce(a.view(), b.view(), ReduceOp::sum, kCollectiveTags); },
               "tag");
  expect_error([&] { comm_->send(a.view(), p_, 0); }, "send: peer");
  expect_error([&] { comm_->recv(a.view(), -1, 0); }, "recv: peer");
  expect_error([&] { comm_->send(a.view(), 0, -3); }, "send: tag");
  Buffer small(DType::f32, 8 * p_ - 1);
  expect_error([&] { comm_->all_gather(a.view(), small.view()); }, "all_gather: recv.count");
  expect_error([&] { comm_->reduce_scatter(a.view(), b.view_at(0, 3), ReduceOp::sum); },
               "reduce_scatter: send.count");
  expect_error([&] { comm_->broadcast(a.view(), p_); }, "broadcast: root");
  std::vector<int64_t> wrong(p_ + 1, 1);
  expect_error([&] { comm_->all_gather_v(a.view_at(0, 1), b.view(), wrong); },
               "all_gather_v: recv_counts");
  Buf null_buf{nullptr, 4, DType::f32, MemoryKind::host};
  expect_error([&] { comm_->all_reduce(null_buf, b.view(), ReduceOp::sum); }, "non-null");
  if (!comm_->info().device_memory) {
    Buf dev = a.view();
    dev.memory = MemoryKind::cuda;
    expect_error([&] { comm_->all_reduce(dev, dev, ReduceOp::sum); }, "memory kind");
  }
  // Nothing was sent: the communicator still works and counted nothing.
  EXPECT_EQ(comm_->traffic().total().ops, 0u);
  comm_->barrier();
}

TEST_F(Conformance, WaitTimesOutAndCanBeWaitedAgain) {
  const int next = (r_ + 1) % p_, prev = (r_ + p_ - 1) % p_;
  Buffer in(DType::f32, 3), out(DType::f32, 3);
  for (int64_t i = 0; i < 3; ++i) out.set(i, value(r_, i));
  auto pending = comm_->recv_async(in.view(), prev, 77);
  EXPECT_FALSE(pending->test());
  EXPECT_THROW(pending->wait(std::chrono::milliseconds(30)), ody::TimeoutError);
  comm_->barrier();
  comm_->send(out.view(), next, 77);
  pending->wait(std::chrono::milliseconds(60000));
  expect_values(
      in, 3, DType::f32, [&](int64_t i) { return value(prev, i); }, 0, "late recv");
}

}  // namespace
}  // namespace ody::comm
