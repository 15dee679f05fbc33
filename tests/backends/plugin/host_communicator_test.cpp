// The host adapter's point-to-point Works (backends/plugin/host_communicator.hpp) over the
// example plugin: batches beyond the inline handles, a failing handle reported as one
// ody::Error by wait() while the communicator stays usable, a Work dropped without wait()
// still completing, and the oversubscription rule of the wait policy.
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backends/plugin/host_communicator.hpp"
#include "backends/plugin/loader.hpp"
#include "backends/registry.hpp"
#include "base/error.hpp"

namespace ody::backends::plugin {
namespace {

class HostWorks : public ::testing::Test {
 protected:
  void SetUp() override {
    set_search_path(ODY_TEST_SHM_PLUGIN_DIR);
    comm_ = create_world("plugin:shm");
    r_ = comm_->rank();
    p_ = comm_->size();
  }
  void TearDown() override {
    comm_.reset();
    set_search_path("");
  }
  // A value no other (rank, message, element) pair has.
  static std::int32_t value(int rank, int msg, int i) { return rank * 1000000 + msg * 1000 + i; }

  std::unique_ptr<comm::Communicator> comm_;
  int r_ = 0, p_ = 1;
};

// Three messages to every rank (itself included) in one batch: 6 p handles, beyond the 4 a
// Work keeps inline; different sizes and tags, received in a different order than sent.
TEST_F(HostWorks, BatchBeyondInlineHandles) {
  constexpr int kMsgs = 3;
  std::vector<std::vector<std::int32_t>> out(p_ * kMsgs), in(p_ * kMsgs);
  std::vector<comm::P2POp> ops;
  for (int peer = 0; peer < p_; ++peer)
    for (int m = kMsgs - 1; m >= 0; --m) {
      auto& b = in[peer * kMsgs + m];
      b.assign(5 + m * 700, -1);
      ops.push_back(comm::P2POp::irecv(comm::buf(b), peer, 40 + m));
    }
  for (int peer = 0; peer < p_; ++peer)
    for (int m = 0; m < kMsgs; ++m) {
      auto& b = out[peer * kMsgs + m];
      b.resize(5 + m * 700);
      for (std::size_t i = 0; i < b.size(); ++i) b[i] = value(r_, m, static_cast<int>(i));
      ops.push_back(comm::P2POp::isend(comm::cbuf(b), peer, 40 + m));
    }
  ASSERT_GT(ops.size(), 4u);
  auto work = comm_->batch_p2p_async(ops);
  work->wait();
  EXPECT_TRUE(work->test());
  for (int peer = 0; peer < p_; ++peer)
    for (int m = 0; m < kMsgs; ++m) {
      const auto& b = in[peer * kMsgs + m];
      int wrong = 0;
      for (std::size_t i = 0; i < b.size(); ++i)
        wrong += b[i] != value(peer, m, static_cast<int>(i));
      EXPECT_EQ(wrong, 0) << "message " << m << " from rank " << peer;
    }
}

// A receive smaller than the message fails at wait() with the plugin's text, every later
// test() reports the same failure, and the communicator keeps working.
TEST_F(HostWorks, FailedHandleReportedByWaitAndCommunicatorUsable) {
  std::vector<std::int32_t> out(8, 7), small(4, 0);
  const comm::P2POp bad[] = {comm::P2POp::irecv(comm::buf(small), r_, 3),
                             comm::P2POp::isend(comm::cbuf(out), r_, 3)};
  auto work = comm_->batch_p2p_async(bad);
  std::string msg;
  try {
    work->wait();
  } catch (const ody::Error& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find("backend plugin:shm: test failed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("arrived for a receive of 16 bytes"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_THROW(work->test(), ody::Error);
  work.reset();  // the destructor swallows the failure

  std::vector<std::int32_t> in(8, 0);
  const comm::P2POp good[] = {comm::P2POp::irecv(comm::buf(in), r_, 3),
                              comm::P2POp::isend(comm::cbuf(out), r_, 3)};
  comm_->batch_p2p(good);
  EXPECT_EQ(in, out);
}

// A Work destroyed without wait() completes its operation first (the buffers may be
// reused as soon as the destructor returns).
TEST_F(HostWorks, DroppedWorkCompletes) {
  const int next = (r_ + 1) % p_, prev = (r_ + p_ - 1) % p_;
  std::vector<std::int32_t> out(1000), in(1000, -1);
  for (int i = 0; i < 1000; ++i) out[i] = value(r_, 0, i);
  const comm::P2POp ops[] = {comm::P2POp::isend(comm::cbuf(out), next, 11),
                             comm::P2POp::irecv(comm::buf(in), prev, 11)};
  comm_->batch_p2p_async(ops).reset();
  int wrong = 0;
  for (int i = 0; i < 1000; ++i) wrong += in[i] != value(prev, 0, i);
  EXPECT_EQ(wrong, 0);
}

// Yielding while waiting is for hosts that run more ranks than they have cores.
TEST(HostPolicy, OversubscribedWhenMoreLocalRanksThanCores) {
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
  int local_size = 0;
  MPI_Comm_size(local, &local_size);
  MPI_Comm_free(&local);
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  EXPECT_EQ(host_oversubscribed(MPI_COMM_WORLD), local_size > cores)
      << local_size << " local ranks, " << cores << " cores";
}

}  // namespace
}  // namespace ody::backends::plugin
