// The UCX backend's tag layout (backends/ucx/tag.hpp): every field round-trips at its
// limits, fields never leak into each other, and tags that must differ do.
#include <gtest/gtest.h>

#include <set>

#include "backends/ucx/tag.hpp"

namespace ody::backends::ucx::tag {
namespace {

TEST(UcxTag, PointToPointRoundTripsAtTheLimits) {
  for (std::uint32_t comm : {0u, 1u, 1000u, 2047u})
    for (std::uint32_t src : {0u, 1u, 12345u, (1u << 20) - 1})
      for (std::uint32_t user : {0u, 5u, static_cast<std::uint32_t>(comm::kMaxP2PTag)}) {
        const Fields f = decode(p2p(comm, src, user));
        EXPECT_FALSE(f.collective);
        EXPECT_EQ(f.comm_id, comm);
        EXPECT_EQ(f.source, src);
        EXPECT_EQ(f.user_tag, user);
      }
}

TEST(UcxTag, CollectiveRoundTripsAtTheLimits) {
  for (std::uint32_t comm : {0u, 2047u})
    for (std::uint32_t src : {0u, (1u << 20) - 1})
      for (std::uint32_t ct = 0; ct < static_cast<std::uint32_t>(comm::kCollectiveTags); ++ct)
        for (std::uint32_t seq : {0u, 1u, (1u << 22) - 1})
          for (std::uint32_t step : {0u, 1u, 255u}) {
            const Fields f = decode(collective(comm, src, ct, seq, step));
            EXPECT_TRUE(f.collective);
            EXPECT_EQ(f.comm_id, comm);
            EXPECT_EQ(f.source, src);
            EXPECT_EQ(f.coll_tag, ct);
            EXPECT_EQ(f.seq, seq);
            EXPECT_EQ(f.step, step);
          }
}

TEST(UcxTag, FieldsWrapInsteadOfSpillingIntoNeighbours) {
  // A sequence number past 22 bits wraps and leaves the collective tag alone; a step past
  // 8 bits leaves the sequence alone; a comm id past 11 bits leaves the kind bit alone.
  EXPECT_EQ(decode(collective(3, 4, 1, (1u << 22) + 7, 2)), decode(collective(3, 4, 1, 7, 2)));
  EXPECT_EQ(decode(collective(3, 4, 2, 9, 256 + 3)), decode(collective(3, 4, 2, 9, 3)));
  EXPECT_FALSE(decode(p2p(2048 + 5, 0, 0)).collective);
  EXPECT_EQ(decode(p2p(2048 + 5, 0, 0)).comm_id, 5u);
}

TEST(UcxTag, DistinctMessagesGetDistinctTags) {
  std::set<std::uint64_t> seen;
  int n = 0;
  for (std::uint32_t comm : {0u, 1u})
    for (std::uint32_t src : {0u, 1u, 2u}) {
      for (std::uint32_t user : {0u, 1u, 2u}) seen.insert(p2p(comm, src, user)), ++n;
      for (std::uint32_t ct = 0; ct < 4; ++ct)
        for (std::uint32_t seq : {0u, 1u})
          for (std::uint32_t step : {0u, 1u})
            seen.insert(collective(comm, src, ct, seq, step)), ++n;
    }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(n));
  // Point-to-point user tag 0 and collective tag 0 / seq 0 / step 0 differ by the kind bit.
  EXPECT_NE(p2p(0, 0, 0), collective(0, 0, 0, 0, 0));
}

}  // namespace
}  // namespace ody::backends::ucx::tag
