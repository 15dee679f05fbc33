// The host uses a plugin's own collective entries when it has them, and builds the
// operation over point to point when an entry declines (ODY_PLUGIN_UNSUPPORTED).
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <vector>

#include "backends/plugin/loader.hpp"
#include "backends/registry.hpp"
#include "comm/communicator.hpp"

namespace ody::backends::plugin {
namespace {

TEST(NativeCollectives, UsedWhenPresentAndFallbackWhenDeclined) {
  set_search_path(ODY_TEST_NATIVE_PLUGIN_DIR);
  auto world = create_world("plugin:native");
  auto* calls = static_cast<int*>(dlsym(load("native")->handle, "native_calls"));
  ASSERT_NE(calls, nullptr);
  using comm::ReduceOp;
  std::vector<float> a = {1, 2, 3}, b(3);
  world->all_reduce(comm::cbuf(a), comm::buf(b), ReduceOp::sum);
  world->all_gather(comm::cbuf(a), comm::buf(b));
  world->reduce_scatter(comm::cbuf(a), comm::buf(b), ReduceOp::max);
  world->all_to_all(comm::cbuf(a), comm::buf(b));
  world->broadcast(comm::buf(b), 0);
  world->barrier();
  for (int k = 0; k < 6; ++k) EXPECT_EQ(calls[k], 1) << "entry " << k;
  EXPECT_EQ(b, a);
  // f64: every entry declines, the host's schedules (over the loopback isend/irecv) run.
  std::vector<double> x = {4, 5}, y(2, 0);
  world->all_reduce(comm::cbuf(x), comm::buf(y), ReduceOp::avg);
  EXPECT_EQ(y, x);
  std::fill(y.begin(), y.end(), 0);
  world->all_to_all_async(comm::cbuf(x), comm::buf(y))->wait();
  EXPECT_EQ(y, x);
  const std::vector<std::int64_t> counts = {2};
  std::fill(y.begin(), y.end(), 0);
  world->all_gather_v(comm::cbuf(x), comm::buf(y), counts);  // never native
  EXPECT_EQ(y, x);
  for (int k = 0; k < 5; ++k) EXPECT_EQ(calls[k], 1) << "entry " << k << " after f64";
  // Point to point to oneself.
  std::vector<double> in(2, 0);
  const comm::P2POp ops[] = {comm::P2POp::irecv(comm::buf(in), 0, 7),
                             comm::P2POp::isend(comm::cbuf(x), 0, 7)};
  world->batch_p2p(ops);
  EXPECT_EQ(in, x);
  set_search_path("");
}

}  // namespace
}  // namespace ody::backends::plugin
