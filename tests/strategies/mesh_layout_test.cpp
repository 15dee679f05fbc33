// Mesh (dimension sub-communicators, placement hook, errors) and token layouts (positions,
// shard -> unshard round trip bitwise exact, divisibility errors) at every world size.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "backends/hierarchical/communicator.hpp"
#include "backends/registry.hpp"
#include "base/error.hpp"
#include "strategies/layout.hpp"
#include "strategies/mesh.hpp"
#include "support/test_args.hpp"

namespace ody::strategies {
namespace {

std::unique_ptr<comm::Communicator> world() { return backends::create_world(test::backend_name()); }

TEST(Mesh, OneDimensionIsTheWorld) {
  auto w = world();
  Mesh mesh(*w, {{"sp", w->size()}});
  EXPECT_EQ(mesh.comm("sp").size(), w->size());
  EXPECT_EQ(mesh.comm("sp").rank(), w->rank());
  EXPECT_EQ(mesh.coord("sp"), w->rank());
}

TEST(Mesh, InnerDimensionHoldsContiguousRanks) {
  auto w = world();
  const int p = w->size();
  if (p % 2 != 0) GTEST_SKIP() << "needs an even world size";
  Mesh mesh(*w, {{"inner", 2}, {"outer", p / 2}});
  EXPECT_EQ(mesh.coord("inner"), w->rank() % 2);
  EXPECT_EQ(mesh.coord("outer"), w->rank() / 2);
  // The sum of world ranks over each group identifies the group exactly.
  int r = w->rank(), sum = 0;
  mesh.comm("inner").all_reduce(comm::cbuf(&r, 1), comm::buf(&sum, 1), comm::ReduceOp::sum);
  EXPECT_EQ(sum, (r / 2) * 4 + 1);  // ranks 2k and 2k+1
  mesh.comm("outer").all_reduce(comm::cbuf(&r, 1), comm::buf(&sum, 1), comm::ReduceOp::sum);
  int expect = 0;
  for (int q = r % 2; q < p; q += 2) expect += q;
  EXPECT_EQ(sum, expect);
  EXPECT_EQ(mesh.comm("outer").rank(), mesh.coord("outer"));
}

TEST(Mesh, PlacementReordersRanks) {
  auto w = world();
  const int p = w->size();
  std::vector<int> placement(p);
  for (int m = 0; m < p; ++m) placement[m] = p - 1 - m;  // reversed
  Mesh mesh(*w, {{"sp", p}}, placement);
  EXPECT_EQ(mesh.index(), p - 1 - w->rank());
  EXPECT_EQ(mesh.comm("sp").rank(), p - 1 - w->rank());
}

// A dimension whose group spans two pretend nodes with two or more ranks on each gets a
// two-level communicator with the same ranks, order and results as the plain split.
TEST(Mesh, DimensionSpanningNodesIsHierarchical) {
  auto w = world();
  const int p = w->size();
  if (p < 4 || p % 2 != 0) GTEST_SKIP() << "needs an even world size >= 4";
  std::vector<int> nodes(p);
  for (int r = 0; r < p; ++r) nodes[r] = r / (p / 2);  // two nodes of p/2 ranks
  Mesh mesh(*w, {{"sp", p}}, {}, nodes);
  EXPECT_TRUE(mesh.hierarchical("sp"));
  comm::Communicator& c = mesh.comm("sp");
  EXPECT_NE(dynamic_cast<backends::hierarchical::HierarchicalCommunicator*>(&c), nullptr);
  EXPECT_EQ(c.rank(), w->rank());
  const std::int64_t n = 3 * p + 1;
  std::vector<float> in(n), flat(n), two(n);
  for (std::int64_t i = 0; i < n; ++i) in[i] = static_cast<float>((w->rank() * 7 + i) % 11);
  w->all_reduce(comm::cbuf(in.data(), n), comm::buf(flat.data(), n), comm::ReduceOp::sum);
  c.all_reduce(comm::cbuf(in.data(), n), comm::buf(two.data(), n), comm::ReduceOp::sum);
  EXPECT_EQ(flat, two);
  std::vector<float> g_flat(n * p), g_two(n * p);
  w->all_gather(comm::cbuf(in.data(), n), comm::buf(g_flat.data(), n * p));
  c.all_gather(comm::cbuf(in.data(), n), comm::buf(g_two.data(), n * p));
  EXPECT_EQ(g_flat, g_two);
  std::vector<float> a(2 * p), a_flat(2 * p), a_two(2 * p);
  for (int i = 0; i < 2 * p; ++i) a[i] = static_cast<float>(w->rank() * 100 + i);
  w->all_to_all(comm::cbuf(a.data(), 2 * p), comm::buf(a_flat.data(), 2 * p));
  c.all_to_all_async(comm::cbuf(a.data(), 2 * p), comm::buf(a_two.data(), 2 * p))->wait();
  EXPECT_EQ(a_flat, a_two);
  // Two dimensions: "inner" pairs lie on one node (plain); an "outer" group (every other
  // rank) has p/4 ranks on each node: plain at p = 4 (one per node), two-level from p = 8.
  Mesh two_dims(*w, {{"inner", 2}, {"outer", p / 2}}, {}, nodes);
  EXPECT_FALSE(two_dims.hierarchical("inner"));
  EXPECT_EQ(two_dims.hierarchical("outer"), p >= 8);
  // Without node_of_rank nothing is hierarchical; a wrong length is an error.
  EXPECT_FALSE(Mesh(*w, {{"sp", p}}).hierarchical("sp"));
  EXPECT_THROW(Mesh(*w, {{"sp", p}}, {}, std::vector<int>(p + 1, 0)), Error);
}

TEST(Mesh, Errors) {
  auto w = world();
  const int p = w->size();
  EXPECT_THROW(Mesh(*w, {{"a", p + 1}}), Error);
  EXPECT_THROW(Mesh(*w, {{"a", p}, {"a", 1}}), Error);
  if (p > 1) EXPECT_THROW(Mesh(*w, {{"a", p}}, std::vector<int>(p, 0)), Error);
  try {
    Mesh(*w, {{"a", p}, {"b", 2}});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("product"), std::string::npos) << e.what();
  }
  Mesh mesh(*w, {{"sp", p}});
  EXPECT_THROW(mesh.comm("tp"), Error);
}

TEST(Layout, PositionsArePartition) {
  for (int n : {1, 2, 3, 4})
    for (auto lay : {TokenLayout::contiguous, TokenLayout::zigzag, TokenLayout::stripe}) {
      const std::int64_t L = 2 * n * 3;
      std::vector<int> seen(L, 0);
      for (int r = 0; r < n; ++r)
        for (auto t : local_positions(lay, L, n, r)) ++seen[t];
      for (std::int64_t t = 0; t < L; ++t)
        EXPECT_EQ(seen[t], 1) << to_string(lay) << " n=" << n << " t=" << t;
    }
  // zigzag, N = 2, L = 8: rank 0 holds chunks 0 and 3, rank 1 chunks 1 and 2.
  EXPECT_EQ(local_positions(TokenLayout::zigzag, 8, 2, 0), (std::vector<std::int64_t>{0, 1, 6, 7}));
  EXPECT_EQ(local_positions(TokenLayout::zigzag, 8, 2, 1), (std::vector<std::int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(local_positions(TokenLayout::stripe, 8, 2, 1), (std::vector<std::int64_t>{1, 3, 5, 7}));
}

TEST(Layout, ShardUnshardRoundTripIsExact) {
  auto w = world();
  const int n = w->size();
  const std::int64_t B = 2, L = 2 * n * 3, wd = 5;
  std::vector<float> full(B * L * wd);
  for (std::size_t e = 0; e < full.size(); ++e)
    full[e] = std::ldexp(float(e) + 0.25f, -3) * (e % 3 ? 1 : -1);
  for (auto lay : {TokenLayout::contiguous, TokenLayout::zigzag, TokenLayout::stripe}) {
    std::vector<float> local(B * L / n * wd), back(full.size(), -1.f);
    shard(lay, full.data(), local.data(), B, L, wd, n, w->rank());
    unshard(lay, local.data(), back.data(), B, L, wd, *w);
    EXPECT_EQ(std::memcmp(full.data(), back.data(), full.size() * sizeof(float)), 0)
        << to_string(lay);
  }
}

TEST(Layout, DivisibilityErrorsNameRuleAndNearest) {
  try {
    check_layout(TokenLayout::zigzag, 30, 4, "ring: L");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("2N"), std::string::npos) << m;
    EXPECT_NE(m.find("24 or 32"), std::string::npos) << m;
    EXPECT_NE(m.find("30"), std::string::npos) << m;
  }
  EXPECT_THROW(check_layout(TokenLayout::contiguous, 10, 4, "L"), Error);
  EXPECT_THROW(check_layout(TokenLayout::stripe, 0, 1, "L"), Error);
  EXPECT_NO_THROW(check_layout(TokenLayout::stripe, 12, 4, "L"));
  try {
    check_divisible("ulysses: H", "H", 6, "N", 4);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("4 or 8"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ody::strategies
