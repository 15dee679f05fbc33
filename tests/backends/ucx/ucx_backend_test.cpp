// UCX-specific behaviour (backends/ucx): the traffic each algorithm really sends (the
// conformance suite skips exact volumes for backends that count their own), several
// collectives of one tag in flight, tags issued in different orders, split communicators
// in flight next to their parent, and wait(timeout) on a collective whose peers are late.
// Expected volumes are written out here from the algorithms' descriptions (ring, pairwise,
// binomial tree), not computed by the backend's code.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <vector>

#include "backends/registry.hpp"
#include "backends/ucx/communicator.hpp"
#include "base/error.hpp"
#include "comm/communicator.hpp"

namespace ody::backends::ucx {
namespace {

using comm::OpKind;
using comm::ReduceOp;
using std::int64_t;
using std::uint64_t;

class UcxBackend : public ::testing::Test {
 protected:
  void SetUp() override {
    comm_ = create_world("ucx");
    p_ = comm_->size();
    r_ = comm_->rank();
  }
  void expect_traffic(OpKind k, uint64_t sent, uint64_t recv, const std::string& what) {
    const auto e = comm_->traffic()[k];
    EXPECT_EQ(e.ops, 1u) << what;
    EXPECT_EQ(e.bytes_sent, sent) << what;
    EXPECT_EQ(e.bytes_recv, recv) << what;
  }
  int next() const { return (r_ + 1) % p_; }
  int prev() const { return (r_ + p_ - 1) % p_; }
  std::unique_ptr<comm::Communicator> comm_;
  int p_ = 1, r_ = 0;
};

TEST_F(UcxBackend, RegistryAndInfo) {
  const auto names = available();
  EXPECT_NE(std::find(names.begin(), names.end(), "ucx"), names.end());
  EXPECT_EQ(comm_->info().name, "ucx");
  EXPECT_TRUE(comm_->info().counts_own_traffic);
  EXPECT_FALSE(comm_->info().device_memory);
}

TEST_F(UcxBackend, AllReduceCountsBothRingsOverTheBalancedPartition) {
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{1001}}) {
    comm_->reset_traffic();
    std::vector<double> a(n, 1.0), b(n);
    comm_->all_reduce(comm::cbuf(a), comm::buf(b), ReduceOp::sum);
    for (double v : b) ASSERT_EQ(v, p_);
    auto c = [&](int j) { return n / p_ + ((j % p_) < n % p_ ? 1 : 0); };
    // Reduce-scatter sends every block but its own and receives every block but prev's;
    // the all-gather sends every block but next's and receives every block but its own.
    const uint64_t sent = p_ == 1 ? 0 : 8 * ((n - c(r_)) + (n - c(next())));
    const uint64_t got = p_ == 1 ? 0 : 8 * ((n - c(prev())) + (n - c(r_)));
    expect_traffic(OpKind::allreduce, sent, got, "all_reduce n=" + std::to_string(n));
  }
}

TEST_F(UcxBackend, RingAllGatherAndReduceScatterCountEveryHop) {
  const int64_t m = 37;
  std::vector<float> mine(m, 1.0f), all(m * p_), red(m);
  comm_->reset_traffic();
  comm_->all_gather(comm::cbuf(mine), comm::buf(all));
  const uint64_t b = static_cast<uint64_t>(m) * 4 * (p_ - 1);
  expect_traffic(OpKind::allgather, b, b, "all_gather");
  comm_->reset_traffic();
  comm_->reduce_scatter(comm::cbuf(all), comm::buf(red), ReduceOp::max);
  expect_traffic(OpKind::reducescatter, b, b, "reduce_scatter");

  // all_gather_v: the ring forwards every block but next's and receives every block but
  // its own.
  std::vector<int64_t> counts(p_);
  for (int j = 0; j < p_; ++j) counts[j] = j + 2;
  const int64_t total = std::accumulate(counts.begin(), counts.end(), int64_t{0});
  std::vector<std::int32_t> v(counts[r_], r_), out(total);
  comm_->reset_traffic();
  comm_->all_gather_v(comm::cbuf(v), comm::buf(out), counts);
  const uint64_t sent = p_ == 1 ? 0 : 4 * (total - counts[next()]);
  expect_traffic(OpKind::allgatherv, sent, 4 * (total - counts[r_]), "all_gather_v");
  int64_t k = 0;
  for (int j = 0; j < p_; ++j)
    for (int64_t i = 0; i < counts[j]; ++i) EXPECT_EQ(out[k++], j);
}

TEST_F(UcxBackend, BinomialBroadcastCountsForwarding) {
  // Sends per relative rank (rank - root mod p) of a binomial tree, p = 1..4.
  const std::vector<std::vector<int>> sends = {{0}, {1, 0}, {2, 0, 0}, {2, 0, 1, 0}};
  ASSERT_LE(p_, 4) << "extend the table";
  const int64_t n = 1000;
  for (int root = 0; root < p_; ++root) {
    std::vector<float> x(n, r_ == root ? 3.0f : 0.0f);
    comm_->reset_traffic();
    comm_->broadcast(comm::buf(x), root);
    for (float v : x) ASSERT_EQ(v, 3.0f);
    const int vr = (r_ - root + p_) % p_;
    expect_traffic(OpKind::broadcast, static_cast<uint64_t>(sends[p_ - 1][vr]) * n * 4,
                   vr == 0 ? 0 : n * 4, "broadcast root " + std::to_string(root));
  }
}

TEST_F(UcxBackend, AllToAllAndBarrierCounts) {
  const int64_t block = 11;
  std::vector<std::int64_t> s(block * p_, r_), d(block * p_);
  comm_->reset_traffic();
  comm_->all_to_all(comm::cbuf(s), comm::buf(d));
  const uint64_t b = static_cast<uint64_t>(block) * 8 * (p_ - 1);
  expect_traffic(OpKind::alltoall, b, b, "all_to_all");
  for (int j = 0; j < p_; ++j) EXPECT_EQ(d[j * block], j);
  comm_->reset_traffic();
  comm_->barrier(2);
  expect_traffic(OpKind::barrier, 0, 0, "barrier");
}

// Two collectives on one tag in flight at once must match in issue order; four tags
// issued in opposite orders on alternate ranks must each match their own.
TEST_F(UcxBackend, SameTagMatchesInIssueOrderAcrossTags) {
  const int64_t n = 50001;
  std::vector<std::vector<float>> in(8, std::vector<float>(n)), out(8, std::vector<float>(n));
  for (int k = 0; k < 8; ++k) std::fill(in[k].begin(), in[k].end(), static_cast<float>(k + 1));
  std::vector<comm::WorkPtr> works(8);
  // Operation k uses tag k % 4; the two operations of a tag are k and k + 4, issued in
  // that order everywhere, but the tags themselves in opposite orders on odd ranks.
  std::vector<int> order(8);
  std::iota(order.begin(), order.end(), 0);
  if (r_ % 2)
    std::reverse(order.begin(), order.begin() + 4), std::reverse(order.begin() + 4, order.end());
  for (int k : order)
    works[k] = comm_->all_reduce_async(comm::cbuf(in[k]), comm::buf(out[k]), ReduceOp::sum, k % 4);
  for (int k = 7; k >= 0; --k) works[k]->wait();
  for (int k = 0; k < 8; ++k)
    EXPECT_EQ(out[k][n / 2], static_cast<float>((k + 1) * p_)) << "operation " << k;
}

TEST_F(UcxBackend, SplitCommunicatorsRunBesideTheirParent) {
  auto sub = comm_->split(r_ % 2, r_);
  ASSERT_NE(sub, nullptr);
  auto* u = dynamic_cast<UcxCommunicator*>(sub.get());
  ASSERT_NE(u, nullptr);
  EXPECT_NE(u->id(), dynamic_cast<UcxCommunicator*>(comm_.get())->id());
  std::vector<std::int64_t> one{1}, world_sum{0}, sub_sum{0};
  // Same tag (0) on both, in flight together: they must not match each other.
  auto w1 = comm_->all_reduce_async(comm::cbuf(one), comm::buf(world_sum), ReduceOp::sum);
  auto w2 = sub->all_reduce_async(comm::cbuf(one), comm::buf(sub_sum), ReduceOp::sum);
  w2->wait();
  w1->wait();
  EXPECT_EQ(world_sum[0], p_);
  EXPECT_EQ(sub_sum[0], sub->size());
  EXPECT_EQ(sub->size(), (p_ - r_ % 2 + 1) / 2);
  // A split of a split.
  auto subsub = sub->split(0, -sub->rank());
  ASSERT_NE(subsub, nullptr);
  EXPECT_EQ(subsub->rank(), sub->size() - 1 - sub->rank());
  subsub->barrier();
}

TEST_F(UcxBackend, WaitOnALateCollectiveTimesOutThenCompletes) {
  if (p_ < 2) GTEST_SKIP() << "needs two ranks";
  std::vector<float> a(1000, 1.0f), b(1000);
  comm::WorkPtr w;
  if (r_ == 0) {
    w = comm_->all_reduce_async(comm::cbuf(a), comm::buf(b), ReduceOp::sum, 1);
    EXPECT_FALSE(w->test());
    EXPECT_THROW(w->wait(std::chrono::milliseconds(20)), ody::TimeoutError);
    MPI_Barrier(MPI_COMM_WORLD);  // the others issue only now
  } else {
    MPI_Barrier(MPI_COMM_WORLD);
    w = comm_->all_reduce_async(comm::cbuf(a), comm::buf(b), ReduceOp::sum, 1);
  }
  w->wait(std::chrono::milliseconds(60000));
  EXPECT_EQ(b[999], static_cast<float>(p_));
}

// A receive shorter than its message fails the batch with ody::Error (UCX reports the
// truncation), whether the message was sent before the receive was posted (the error may
// then come from posting, if UCX had already taken the message in) or after (from wait);
// the batch's other receive, whose message never comes, is cancelled, and the
// communicator keeps working.
TEST_F(UcxBackend, TruncatedReceiveFailsItsBatchAndTheCommunicatorGoesOn) {
  if (p_ < 2) GTEST_SKIP() << "needs two ranks";
  for (bool message_first : {true, false}) {
    const comm::Tag tag = message_first ? 1 : 3;
    if (r_ == 0) {
      if (!message_first) MPI_Barrier(MPI_COMM_WORLD);
      std::vector<std::uint8_t> msg(16, 7);
      const comm::P2POp ops[] = {comm::P2POp::isend(comm::cbuf(msg), 1, tag)};
      comm_->batch_p2p(ops);
      if (message_first) MPI_Barrier(MPI_COMM_WORLD);
    } else if (r_ == 1) {
      std::vector<std::uint8_t> small(8), never(4);
      const comm::P2POp ops[] = {comm::P2POp::irecv(comm::buf(never), 0, tag + 1),
                                 comm::P2POp::irecv(comm::buf(small), 0, tag)};
      if (message_first) MPI_Barrier(MPI_COMM_WORLD);
      EXPECT_THROW(
          {
            auto w = comm_->batch_p2p_async(ops);
            if (!message_first) MPI_Barrier(MPI_COMM_WORLD);
            w->wait(std::chrono::milliseconds(60000));
          },
          ody::Error)
          << (message_first ? "message before the receive" : "message after the receive");
    } else {
      MPI_Barrier(MPI_COMM_WORLD);
    }
    std::vector<float> a(100000, 1.0f), b(100000);
    comm_->all_reduce(comm::cbuf(a), comm::buf(b), ReduceOp::sum);
    EXPECT_EQ(b[99999], static_cast<float>(p_));
  }
}

}  // namespace
}  // namespace ody::backends::ucx
