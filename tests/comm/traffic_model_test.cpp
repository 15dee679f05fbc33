// The algorithm-independent volumes of docs/traffic.md: per-rank values are integers and
// their sums over ranks equal the closed forms ((p-1)/p and 2(p-1)/p of the buffer).
#include <gtest/gtest.h>

#include <vector>

#include "comm/traffic.hpp"
#include "comm/traffic_model.hpp"

namespace ody::comm {
namespace {

TEST(TrafficModel, AllReduceSumsToTwoPMinusOneOverP) {
  for (int p = 1; p <= 8; ++p)
    for (std::int64_t n : {0, 1, 7, 1000, 1001}) {
      std::uint64_t total = 0;
      for (int r = 0; r < p; ++r) total += traffic_model::all_reduce(n, 4, p, r).sent;
      EXPECT_EQ(total, static_cast<std::uint64_t>(2 * (p - 1) * n * 4)) << "p=" << p << " n=" << n;
    }
}

TEST(TrafficModel, CollectivesMoveTheRightVolume) {
  EXPECT_EQ(traffic_model::all_gather(10, 2, 4).sent, 60u);
  EXPECT_EQ(traffic_model::reduce_scatter(10, 4, 3).recv, 80u);
  EXPECT_EQ(traffic_model::all_to_all(12, 4, 4).sent, 36u);  // 3 of 4 blocks of 3 elements
  std::vector<std::int64_t> counts = {3, 0, 5};
  auto b = traffic_model::all_gather_v(counts, 8, 2);
  EXPECT_EQ(b.sent, 5u * 2 * 8);
  EXPECT_EQ(b.recv, 3u * 8);
  EXPECT_EQ(traffic_model::broadcast(5, 4, 1, 0, 0).sent, 0u);
  EXPECT_EQ(traffic_model::broadcast(5, 4, 3, 1, 1).sent, 20u);
  EXPECT_EQ(traffic_model::broadcast(5, 4, 3, 0, 1).recv, 20u);
}

TEST(TrafficCounters, CountResetAndDiff) {
  TrafficCounters c;
  c.add(OpKind::send, 10, 0);
  c.add(OpKind::send, 5, 0);
  c.add(OpKind::recv, 0, 7);
  auto s = c.snapshot();
  EXPECT_EQ(s[OpKind::send].ops, 2u);
  EXPECT_EQ(s[OpKind::send].bytes_sent, 15u);
  EXPECT_EQ(s.total().bytes_recv, 7u);
  c.add(OpKind::send, 1, 0);
  EXPECT_EQ((c.snapshot() - s)[OpKind::send].bytes_sent, 1u);
  c.reset();
  EXPECT_EQ(c.snapshot().total().ops, 0u);
  EXPECT_EQ(to_string(OpKind::reducescatter), "reducescatter");
}

}  // namespace
}  // namespace ody::comm
