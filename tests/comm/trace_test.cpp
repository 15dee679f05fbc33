// comm/trace: blocked time is measured once per outermost wait, waits on a late peer are
// charged to the waiter, and the timeline is valid Chrome trace JSON with matching
// begin/end pairs for operations in flight.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "backends/registry.hpp"
#include "comm/communicator.hpp"
#include "comm/trace.hpp"
#include "support/test_args.hpp"

namespace ody::comm {
namespace {

using namespace std::chrono_literals;

double wall_s(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(Trace, NestedWaitsCountOnce) {
  const double before = trace::blocked_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  {
    trace::Blocked outer("outer", 0, -1);
    trace::Blocked inner("inner", 0, -1);
    std::this_thread::sleep_for(20ms);
  }
  const double wall = wall_s(t0), counted = trace::blocked_seconds() - before;
  EXPECT_GE(counted, 0.019);
  EXPECT_LE(counted, wall);  // counted twice would be about 2x the wall time
}

// The receiver of a message the sender posts late is blocked at least that long; the
// blocking all-reduce on the early rank is charged to it as well.
TEST(Trace, WaitOnLatePeerIsBlockedTime) {
  auto world = backends::create_world(ody::test::backend_name());
  if (world->size() < 2) GTEST_SKIP() << "needs two ranks";
  const double delay = 0.05;
  float v = 1.0f;
  world->barrier();
  const double before = trace::blocked_seconds();
  if (world->rank() == 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(delay));
    world->send(cbuf(&v, 1), 1);
  } else if (world->rank() == 1) {
    world->recv(buf(&v, 1), 0);
    EXPECT_GE(trace::blocked_seconds() - before, delay * 0.9);
  }
  const double before_ar = trace::blocked_seconds();
  if (world->rank() == 1) std::this_thread::sleep_for(std::chrono::duration<double>(delay));
  world->all_reduce(cbuf(&v, 1), buf(&v, 1), ReduceOp::sum);
  if (world->rank() == 0) EXPECT_GE(trace::blocked_seconds() - before_ar, delay * 0.5);
}

TEST(Trace, TimelineIsChromeTraceJson) {
  auto world = backends::create_world(ody::test::backend_name());
  trace::take_events();
  trace::enable(true);
  std::vector<float> a(256, 1.0f), b(256 * world->size());
  {
    trace::Scope span("compute");
    auto w = world->all_gather_async(cbuf(a.data(), a.size()), buf(b.data(), b.size()), 1);
    w->wait();
  }
  world->all_reduce(cbuf(a.data(), a.size()), buf(a.data(), a.size()), ReduceOp::sum);
  trace::enable(false);
  const auto events = trace::take_events();
  const auto parsed =
      nlohmann::json::parse("[" + trace::to_chrome_json(events, world->rank(), 0.0) + "]");
  ASSERT_EQ(parsed.size(), events.size());
  std::map<std::uint64_t, int> open;
  int compute = 0, waits = 0;
  for (const auto& e : parsed) {
    EXPECT_EQ(e["pid"], world->rank());
    const std::string ph = e["ph"];
    if (ph == "b") ++open[e["id"].get<std::uint64_t>()];
    if (ph == "e") --open[e["id"].get<std::uint64_t>()];
    if (ph == "X" && e["tid"] == trace::kComputeTrack) ++compute;
    if (ph == "X" && e["tid"] == trace::kWaitTrack) {
      ++waits;
      EXPECT_EQ(e["name"].get<std::string>().rfind("wait ", 0), 0u);
      EXPECT_TRUE(e["args"].contains("bytes"));
    }
  }
  EXPECT_EQ(open.size(), 1u);  // the async all-gather; the blocking all-reduce has no async span
  for (const auto& [id, n] : open) EXPECT_EQ(n, 0) << "unmatched begin/end for op " << id;
  EXPECT_EQ(compute, 1);
  EXPECT_EQ(waits, 2);  // the all-gather's wait and the blocking all-reduce
  EXPECT_TRUE(trace::take_events().empty());
}

}  // namespace
}  // namespace ody::comm
